package webchat

import (
	"encoding/json"
	"html"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The tests read the page's English words unless they choose a language: a developer's
// GONBCHAT_LANG must not change what they see.
func TestMain(m *testing.M) {
	os.Unsetenv(EnvLanguage)
	os.Exit(m.Run())
}

// Every language has every line, with the same number of %d as the English one.
func TestLanguageCatalog(t *testing.T) {
	verbs := regexp.MustCompile(`%[a-z]`)
	en := reflect.ValueOf(*uiTexts["en"])
	for _, lang := range []string{"en", "zh-TW", "zh-CN"} {
		tx, ok := uiTexts[lang]
		if !ok {
			t.Fatalf("no %s", lang)
		}
		v := reflect.ValueOf(*tx)
		for i := range v.NumField() {
			name, s := v.Type().Field(i).Name, v.Field(i).String()
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: %s is empty", lang, name)
			}
			if got, want := verbs.FindAllString(s, -1), verbs.FindAllString(en.Field(i).String(), -1); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s has verbs %v, English has %v", lang, name, got, want)
			}
		}
	}
	if len(uiTexts) != 3 {
		t.Errorf("%d languages; the tests know 3", len(uiTexts))
	}
}

func TestPageLanguage(t *testing.T) {
	for _, tc := range []struct {
		name, opt, env string
		wantLang       string // the page's own words
		words          []string
	}{
		{"default", "", "", "en", []string{">Send</button>", ">Stop</button>", ">Retry</button>", ">Undo</button>", ">Clear</button>",
			`placeholder="Type a message. Enter sends, Shift+Enter starts a new line."`, `aria-label="Example prompts"`}},
		{"option zh-TW", "zh-TW", "", "zh-TW", []string{">送出</button>", ">停止</button>", ">重試</button>", ">復原</button>", ">清除</button>",
			`placeholder="輸入訊息。Enter 送出，Shift+Enter 換行。"`, `aria-label="停止回覆"`, `aria-label="範例問題"`, ">你的訊息</label>"}},
		{"env zh-CN", "", "zh_CN", "zh-CN", []string{">发送</button>", ">停止</button>", ">重试</button>", ">撤销</button>", ">清空</button>",
			`placeholder="输入消息。Enter 发送，Shift+Enter 换行。"`}},
		{"env zh-Hant", "", "zh-Hant", "zh-TW", []string{">送出</button>"}},
		{"option over env", "en", "zh-TW", "en", []string{">Send</button>"}},
		{"unknown env language", "", "fr", "en", []string{">Send</button>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvLanguage, tc.env)
			var opts []Option
			if tc.opt != "" {
				opts = append(opts, WithLanguage(tc.opt))
			}
			_, ts := newTestServer(t, &fakeModel{}, opts...)
			page := newVisitor(t, ts.URL).page()
			plain := html.UnescapeString(page) // html/template writes + as &#43; in attributes
			for _, w := range tc.words {
				if !strings.Contains(plain, w) {
					t.Errorf("the page lacks %s", w)
				}
			}
			if !strings.Contains(page, `<footer lang="`+tc.wantLang+`">`) {
				t.Errorf("the footer does not say its language %s", tc.wantLang)
			}
			// The persona is Chinese: the document is, whatever the buttons say.
			wantHTML := "zh"
			if strings.HasPrefix(tc.wantLang, "zh") {
				wantHTML = tc.wantLang
			}
			if !strings.Contains(page, `<html lang="`+wantHTML+`">`) {
				t.Errorf("want <html lang=%q>", wantHTML)
			}
			// The script's lines come in a meta tag, as JSON.
			m := regexp.MustCompile(`<meta name="gonbchat-text" content="([^"]*)">`).FindStringSubmatch(page)
			if m == nil {
				t.Fatal("no gonbchat-text meta tag")
			}
			var lines map[string]string
			if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &lines); err != nil {
				t.Fatalf("gonbchat-text: %v: %s", err, m[1])
			}
			if lines["unreachable"] != uiTexts[tc.wantLang].Unreachable || len(lines) != 4 {
				t.Errorf("script lines: %v", lines)
			}
		})
	}
	if _, err := New(testPersona, &fakeModel{}, WithLanguage("fr")); err == nil || !strings.Contains(err.Error(), "zh-TW, zh-CN or en") {
		t.Errorf("WithLanguage(fr): %v", err)
	}
}

// The lines under the bubbles and the refusals are in the page's language.
func TestLinesInLanguage(t *testing.T) {
	m := &fakeModel{reply: says("第一段，慢慢來。", 3), block: true, started: make(chan struct{}, 1)}
	_, ts := newTestServer(t, m, WithLanguage("zh-TW"), WithLimits(Limits{RequestsPerMinute: 1}))
	v := newVisitor(t, ts.URL)
	v.page()
	if r := v.ask("/api/retry", nil); r.status != http.StatusConflict || r.errLine != "還沒有可以重問的問題。" {
		t.Errorf("retry with no question: %d %q", r.status, r.errLine)
	}
	if r := v.send("  "); r.errLine != "訊息是空的。" {
		t.Errorf("empty message: %q", r.errLine)
	}
	got := make(chan result, 1)
	go func() { got <- v.send("慢慢說") }()
	<-m.started
	time.Sleep(50 * time.Millisecond)
	if r := v.send("再一題"); r.status != http.StatusConflict || r.errLine != "回覆還在產生中：請稍候，或按「停止」。" {
		t.Errorf("busy: %d %q", r.status, r.errLine)
	}
	v.post("/api/stop", nil).Body.Close()
	r := <-got
	if r.done.Note != "已停止，回覆不完整。" {
		t.Errorf("stopped note: %q", r.done.Note)
	}
	if l := v.logHTML(); !strings.Contains(l, "已停止，回覆不完整。") {
		t.Errorf("log: %s", l)
	}
	if r := v.send("第三題"); r.status != http.StatusTooManyRequests || !strings.HasPrefix(r.errLine, "訊息太多了：每分鐘最多 1 則。") {
		t.Errorf("rate limit: %d %q", r.status, r.errLine)
	}
}

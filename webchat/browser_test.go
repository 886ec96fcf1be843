package webchat

// The real-browser test: headless Chromium (Debian's package "chromium", which install.sh
// installs) driven by chromedp. Skipped with -short, and when no Chromium is found
// (set GONBCHAT_CHROMIUM to its path if it is elsewhere). Screenshots go to
// $GONBCHAT_SCREENSHOT_DIR if set, else to the test's temporary directory; the test logs
// their paths.

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/gonbchat/gonbchat/internal/browsertest"
	"github.com/gonbchat/gonbchat/llm"
)

// browserModel answers like a persona bot, paced so that the page streams visibly. Words
// in the question choose the reply: 慢 (slow, for Stop), xss (hostile HTML), 長 (long lines,
// for a narrow window). Every reply says how many questions the model was sent, so that the
// page shows whose conversation it got.
type browserModel struct{ calls atomic.Int32 }

const evilReply = "<script>window.pwned=1</script>\n\n<img src=x onerror=\"window.pwned=2\">\n\n" +
	"[點我](javascript:window.pwned=3) <svg onload=\"window.pwned=4\"></svg>\n\n安全的回答。"

func (m *browserModel) Stream(ctx context.Context, msgs []llm.Message) iter.Seq2[string, error] {
	m.calls.Add(1)
	q := msgs[len(msgs)-1].Content
	users := 0
	for _, x := range msgs {
		if x.Role == llm.User {
			users++
		}
	}
	pace := 25 * time.Millisecond
	var text string
	switch {
	case strings.Contains(q, "慢"):
		text, pace = strings.Repeat("慢慢地說，", 400), 60*time.Millisecond
	case strings.Contains(q, "xss"):
		text = evilReply
	case strings.Contains(q, "公式"):
		text = mathReply
	case strings.Contains(q, "長"):
		text = "一行很長的程式碼：\n\n```go\nvar x = \"" + strings.Repeat("abcdefghij", 30) + "\"\n```\n\n" +
			"網址 https://example.com/" + strings.Repeat("verylongpath", 20) + " 結束。\n\n" +
			"| 欄一 | 欄二 | 欄三 | 欄四 | 欄五 | 欄六 |\n|---|---|---|---|---|---|\n| 甲甲甲甲甲 | 乙乙乙乙乙 | 丙丙丙丙丙 | 丁丁丁丁丁 | 戊戊戊戊戊 | 己己己己己 |\n\n" +
			"$$" + strings.Repeat("x_1^2 + ", 30) + "x_n^2$$\n"
	default:
		text = fmt.Sprintf("收到「%s」！這是你的第 %d 句。\n\n**完全是 Lucky Vicky 呀!**\n\n```go\nfmt.Println(\"幸運\")\n```\n\n祝你有美好的一天。", q, users)
	}
	return func(yield func(string, error) bool) {
		for _, d := range pieces(text, 3) {
			select {
			case <-time.After(pace):
			case <-ctx.Done():
				yield("", ctx.Err())
				return
			}
			if !yield(d, nil) {
				return
			}
		}
	}
}

// mathReply has inline and display math; it ends with the display formula.
const mathReply = "質能方程是 $E = mc^2$，分數是：\n\n$$\\frac{a}{b}$$"

// pressEnter presses Enter as a keyboard does: a keyDown that carries the text "\r" (so
// that the page's preventDefault keeps it out of the text box) and a keyUp. (chromedp's
// KeyEvent sends the text as a separate "char" event, which no preventDefault stops.)
func pressEnter(mod chromedp.Modifier) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		p := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", Text: "\r", UnmodifiedText: "\r",
			WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Modifiers: int64(mod)}
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
			return err
		}
		p.Type, p.Text, p.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := chromedp.Call(ctx, input.DispatchKeyEvent, p)
		return err
	})
}

// tab is one browser tab.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
}

func (b tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", b.name, err)
	}
}

func eval[T any](b tab, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("%s: evaluating %s: %v", b.name, js, err)
	}
	return v
}

// wait polls a JavaScript condition.
func (b tab) wait(js, what string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !eval[bool](b, js) {
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: timed out waiting for %s (%s); log:\n%s", b.name, what, js, eval[string](b, `document.getElementById('log').innerHTML`))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	jsIdle      = `!document.querySelector('#log .streaming') && !document.getElementById('send').disabled`
	jsUsers     = `document.querySelectorAll('#log .msg.user').length`
	jsBots      = `document.querySelectorAll('#log .msg.bot').length`
	jsLastBot   = `document.querySelector('#log .msg.bot:last-child')`
	jsLastUser  = `Array.from(document.querySelectorAll('#log .msg.user .text')).pop().textContent`
	jsLastBotMD = `(document.querySelector('#log .msg.bot:last-child .md')||{innerHTML:''}).innerHTML`
)

// ask types a question and presses Enter, then waits for the whole reply.
func (b tab) ask(q string) {
	b.t.Helper()
	n := eval[int](b, jsUsers)
	b.do(chromedp.SendKeys(chromedp.ID("input"), q), pressEnter(0))
	b.wait(fmt.Sprintf(`%s === %d`, jsUsers, n+1), "the question's bubble")
	b.wait(jsIdle, "the end of the reply")
}

func (b tab) screenshot(dir, name string) {
	b.t.Helper()
	browsertest.Screenshot(b.t, b.ctx, dir, name)
}

func TestBrowser(t *testing.T) {
	exe := browsertest.Require(t)
	shots := browsertest.ScreenshotDir(t)

	model := &browserModel{}
	s := quietServer(t, testPersona, model, WithLimits(Limits{RequestsPerMinute: 1000}))
	s.flushInterval = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	url, err := s.Start(ctx, "")
	if err != nil {
		t.Fatal(err)
	}

	browser := startBrowser(t, ctx, exe)
	newTab := func(name string) tab { return openTab(t, browser, name, url) }

	a := newTab("visitor A")
	if got := eval[string](a, `document.querySelector('.greeting').textContent`); !strings.Contains(got, "有什麼不順的事") {
		t.Errorf("greeting bubble: %q", got)
	}
	if got := eval[string](a, `document.title`); got != "員瑛式思考生成器" {
		t.Errorf("title %q", got)
	}

	t.Run("streams and renders", func(t *testing.T) {
		a.t = t
		// Record the reply bubble's text length at each change of the page.
		eval[bool](a, `window.lens = []; new MutationObserver(function () {
			var b = document.querySelector('#log .msg.bot.streaming');
			if (b) window.lens.push(b.textContent.length);
		}).observe(document.getElementById('log'), {childList: true, subtree: true, characterData: true}); true`)
		a.ask("今天出門忘記帶傘，結果淋成落湯雞")
		lens := eval[[]int](a, `window.lens`)
		distinct := map[int]bool{}
		for _, n := range lens {
			if n > 1 {
				distinct[n] = true
			}
		}
		if len(distinct) < 4 {
			t.Errorf("the reply did not grow in steps: lengths %v", lens)
		}
		md := eval[string](a, jsLastBotMD)
		if !strings.Contains(md, "<strong>完全是 Lucky Vicky 呀!</strong>") || !strings.Contains(md, "<pre") ||
			!strings.Contains(md, "今天出門忘記帶傘") || !strings.Contains(md, "第 1 句") {
			t.Errorf("final reply: %s", md)
		}
		if eval[string](a, jsLastUser) != "今天出門忘記帶傘，結果淋成落湯雞" {
			t.Error("the question's bubble")
		}
		if v := eval[string](a, `document.getElementById('input').value`); v != "" {
			t.Errorf("the input still holds %q", v)
		}
		a.ask("還有呢？")
		if md := eval[string](a, jsLastBotMD); !strings.Contains(md, "第 2 句") {
			t.Errorf("second reply: %s", md)
		}
	})

	t.Run("separate visitors", func(t *testing.T) {
		b := newTab("visitor B")
		b.t = t
		if n := eval[int](b, jsUsers); n != 0 {
			t.Fatalf("B sees %d questions", n)
		}
		b.ask("我是 B")
		if md := eval[string](b, jsLastBotMD); !strings.Contains(md, "第 1 句") {
			t.Errorf("B's reply: %s", md)
		}
		if strings.Contains(eval[string](b, `document.getElementById('log').textContent`), "落湯雞") {
			t.Error("B sees A's conversation")
		}
		b.screenshot(shots, "webchat-visitor-b.png")
	})

	t.Run("math as MathML", func(t *testing.T) {
		c := newTab("visitor C")
		c.t = t
		c.ask("給我一個公式")
		md := eval[string](c, jsLastBotMD)
		if n := strings.Count(md, "<math"); n != 2 || strings.Contains(md, "$E") || strings.Contains(md, `\frac`) {
			t.Fatalf("the reply's math is not MathML: %s", md)
		}
		// The bubble ends with the display formula, an element of the MathML namespace (so the
		// HTML parser read it as MathML), and Chromium lays it out: a box of its own, the
		// numerator above the denominator.
		got := eval[map[string]any](c, `(function () {
			var md = document.querySelector('#log .msg.bot:last-child .md');
			var last = md.lastElementChild, inline = md.querySelector('math:not([display])');
			var r = last.getBoundingClientRect(), ri = inline.getBoundingClientRect();
			var f = last.querySelector('mfrac');
			var num = f.children[0].getBoundingClientRect(), den = f.children[1].getBoundingClientRect();
			return {name: last.localName, ns: last.namespaceURI, display: last.getAttribute('display'),
				height: r.height, width: r.width, inlineHeight: ri.height, inlineWidth: ri.width,
				stacked: num.bottom <= den.top + 1 && num.height > 0 && den.height > 0,
				text: inline.textContent};
		})()`)
		if got["name"] != "math" || got["ns"] != "http://www.w3.org/1998/Math/MathML" || got["display"] != "block" {
			t.Errorf("the bubble's last element: %v", got)
		}
		if h, _ := got["height"].(float64); h <= 0 {
			t.Errorf("the display formula has no height: %v", got)
		}
		if h, _ := got["inlineHeight"].(float64); h <= 0 {
			t.Errorf("the inline formula has no height: %v", got)
		}
		if got["stacked"] != true {
			t.Errorf("the fraction is not laid out as a fraction: %v", got)
		}
		if got["text"] != "E=mc2" {
			t.Errorf("inline formula text %q", got["text"])
		}
		c.screenshot(shots, "webchat-math.png")
	})

	t.Run("reload keeps the history", func(t *testing.T) {
		a.t = t
		a.do(chromedp.Reload())
		a.wait(`!!document.querySelector('#log .greeting')`, "the page")
		if n := eval[int](a, jsUsers); n != 2 {
			t.Errorf("after a reload: %d questions", n)
		}
		if md := eval[string](a, jsLastBotMD); !strings.Contains(md, "<strong>") || !strings.Contains(md, "第 2 句") {
			t.Errorf("after a reload the last reply is %s", md)
		}
		if n := eval[int](a, `document.querySelectorAll('#log .greeting').length`); n != 1 {
			t.Errorf("%d greetings", n)
		}
	})

	t.Run("stop", func(t *testing.T) {
		a.t = t
		a.do(chromedp.SendKeys(chromedp.ID("input"), "請慢慢說"), chromedp.Click(chromedp.ID("send")))
		a.wait(`(function(){var b=document.querySelector('#log .msg.bot.streaming');return !!b && b.textContent.length > 20})()`, "a slow reply")
		if eval[bool](a, `document.getElementById('stop').disabled`) {
			t.Fatal("Stop is disabled while a reply streams")
		}
		a.do(chromedp.Click(chromedp.ID("stop")))
		a.wait(jsIdle, "the stopped reply")
		last := eval[string](a, jsLastBot+`.outerHTML`)
		if !strings.Contains(last, "partial") || !strings.Contains(last, "Cut short: stopped.") || !strings.Contains(last, "慢慢地說") {
			t.Errorf("stopped reply: %s", last)
		}
		if n := len([]rune(eval[string](a, jsLastBot+`.textContent`))); n > 1000 {
			t.Errorf("the reply was not cut: %d characters", n)
		}
		a.ask("好，下一題")
		if md := eval[string](a, jsLastBotMD); !strings.Contains(md, "第 4 句") {
			t.Errorf("after Stop: %s", md)
		}
	})

	t.Run("undo and clear", func(t *testing.T) {
		a.t = t
		users := eval[int](a, jsUsers)
		a.do(chromedp.Click(chromedp.ID("undo")))
		a.wait(fmt.Sprintf(`%s === %d`, jsUsers, users-1), "undo")
		if strings.Contains(eval[string](a, `document.getElementById('log').textContent`), "下一題") {
			t.Error("undo left the last question")
		}
		a.do(chromedp.Reload())
		a.wait(`!!document.querySelector('#log .greeting')`, "the page")
		if n := eval[int](a, jsUsers); n != users-1 {
			t.Errorf("undo did not reach the server: %d questions after a reload", n)
		}
		a.do(chromedp.Click(chromedp.ID("clear")))
		a.wait(jsUsers+` === 0 && `+jsBots+` === 1`, "clear")
		a.do(chromedp.Reload())
		a.wait(`!!document.querySelector('#log .greeting')`, "the page")
		if n := eval[int](a, jsBots); n != 1 {
			t.Errorf("after clear and a reload: %d bot bubbles", n)
		}
	})

	t.Run("model HTML does not run", func(t *testing.T) {
		a.t = t
		a.ask("xss please")
		time.Sleep(300 * time.Millisecond) // an onerror would have fired by now
		if v := eval[any](a, `window.pwned === undefined ? null : window.pwned`); v != nil {
			t.Errorf("model HTML ran: window.pwned = %v", v)
		}
		if n := eval[int](a, `document.querySelectorAll('#log script, #log img, #log svg, #log [onerror], #log a[href^="javascript"]').length`); n != 0 {
			t.Errorf("%d dangerous elements in the log", n)
		}
		if md := eval[string](a, jsLastBotMD); !strings.Contains(md, "安全的回答") {
			t.Errorf("reply: %s", md)
		}
	})

	t.Run("IME composition", func(t *testing.T) {
		a.t = t
		calls, users := model.calls.Load(), eval[int](a, jsUsers)
		a.do(chromedp.Focus(chromedp.ID("input")))
		// Synthetic events, as an input method sends them: Enter while composing, then the
		// Enter with keyCode 229 that some browsers send when the composition ends.
		eval[bool](a, `(function () {
			var i = document.getElementById('input');
			i.value = 'ni';
			i.dispatchEvent(new CompositionEvent('compositionstart', {bubbles: true, data: ''}));
			i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', isComposing: true, bubbles: true, cancelable: true}));
			i.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', bubbles: true, cancelable: true}));
			i.value = '你好';
			i.dispatchEvent(new CompositionEvent('compositionend', {bubbles: true, data: '你好'}));
			var e = new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', bubbles: true, cancelable: true});
			Object.defineProperty(e, 'keyCode', {get: function () { return 229; }});
			i.dispatchEvent(e);
			return true;
		})()`)
		// And the browser's own composition, through the DevTools protocol.
		a.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := chromedp.Call(ctx, input.ImeSetComposition, input.ImeSetCompositionParams{Text: "嗎", SelectionStart: 1, SelectionEnd: 1}); err != nil {
				return err
			}
			return nil
		}), pressEnter(0))
		time.Sleep(300 * time.Millisecond)
		if n := eval[int](a, jsUsers); n != users || model.calls.Load() != calls {
			t.Fatalf("Enter during composition sent the message (%d questions, %d model calls)", n, model.calls.Load()-calls)
		}
		if v := eval[string](a, `document.getElementById('input').value`); !strings.HasPrefix(v, "你好") {
			t.Errorf("the composed text was lost: %q", v)
		}
		// Finish the composition; a plain Enter then sends.
		a.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: "嗎"})
			return err
		}))
		eval[bool](a, `document.getElementById('input').dispatchEvent(new CompositionEvent('compositionend', {bubbles: true})); true`)
		value := eval[string](a, `document.getElementById('input').value`)
		a.do(pressEnter(0))
		a.wait(fmt.Sprintf(`%s === %d`, jsUsers, users+1), "the question after the composition")
		a.wait(jsIdle, "the reply")
		if got := eval[string](a, jsLastUser); got != strings.TrimSpace(value) {
			t.Errorf("sent %q, typed %q", got, value)
		}
		// Shift+Enter is a new line, not a send.
		a.do(chromedp.SendKeys(chromedp.ID("input"), "第一行"), pressEnter(chromedp.ModifierShift))
		time.Sleep(200 * time.Millisecond)
		if n := eval[int](a, jsUsers); n != users+1 {
			t.Error("Shift+Enter sent the message")
		}
		if v := eval[string](a, `document.getElementById('input').value`); v != "第一行\n" {
			t.Errorf("Shift+Enter: the text box holds %q", v)
		}
		a.do(chromedp.Click(chromedp.ID("clear")))
		a.wait(jsUsers+` === 0`, "clear")
		eval[bool](a, `document.getElementById('input').value = ''; true`)
	})

	t.Run("narrow window", func(t *testing.T) {
		a.t = t
		a.ask("今天忘記帶傘")
		a.ask("給我一個很長的例子")
		a.do(chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
		a.do(chromedp.Reload())
		a.wait(`!!document.querySelector('#log .greeting')`, "the page")
		for _, js := range []string{
			`document.documentElement.scrollWidth <= window.innerWidth`,
			`document.body.scrollWidth <= window.innerWidth`,
			`document.getElementById('log').scrollWidth <= document.getElementById('log').clientWidth`,
		} {
			if !eval[bool](a, js) {
				t.Errorf("horizontal scroll at 375 px: %s (scrollWidth %d, width %d)", js,
					eval[int](a, `document.documentElement.scrollWidth`), eval[int](a, `window.innerWidth`))
			}
		}
		if !eval[bool](a, `(function(){var r=document.getElementById('send').getBoundingClientRect();return r.right <= window.innerWidth && r.bottom <= window.innerHeight})()`) {
			t.Error("the Send button is off screen")
		}
		a.screenshot(shots, "webchat-phone.png")
		a.do(chromedp.EmulateViewport(1000, 900))
		a.do(chromedp.Reload())
		a.wait(`!!document.querySelector('#log .greeting')`, "the page")
		a.screenshot(shots, "webchat-desktop.png")
	})
}

// startBrowser starts headless Chromium for the test, in Traditional Chinese; it ends with ctx
// or the test.
func startBrowser(t *testing.T, ctx context.Context, exe string) context.Context {
	t.Helper()
	return browsertest.Start(t, ctx, exe, chromedp.Flag("lang", "zh-TW"))
}

// openTab opens url in a new tab of its own browser context (a visitor of their own) and
// waits for the greeting.
func openTab(t *testing.T, browser context.Context, name, url string) tab {
	t.Helper()
	c, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Do opens the tab and binds it to the context it is given: this one,
	// without the timeout of later actions.
	if err := chromedp.Do(c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b := tab{t: t, name: name, ctx: c}
	b.do(chromedp.Navigate(url))
	b.wait(`!!document.querySelector('#log .msg.bot.greeting')`, "the greeting")
	return b
}

// The page in Traditional Chinese, as lesson 004 shows it: the buttons, the placeholder and the
// page script's own lines.
func TestBrowserLanguage(t *testing.T) {
	exe := browsertest.Require(t)
	s := quietServer(t, testPersona, &browserModel{}, WithLanguage("zh-TW"))
	s.flushInterval = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url, err := s.Start(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	a := openTab(t, startBrowser(t, ctx, exe), "zh-TW visitor", url)
	labels := eval[[]string](a, `['send','stop','retry','undo','clear'].map(function (id) { return document.getElementById(id).textContent; })`)
	if strings.Join(labels, " ") != "送出 停止 重試 復原 清除" {
		t.Errorf("buttons: %q", labels)
	}
	if p := eval[string](a, `document.getElementById('input').placeholder`); p != "輸入訊息。Enter 送出，Shift+Enter 換行。" {
		t.Errorf("placeholder: %q", p)
	}
	// A line of the page's script: Retry with no question yet.
	a.do(chromedp.Click(chromedp.ID("retry")))
	a.wait(`document.getElementById('status').textContent !== ''`, "the status line")
	if st := eval[string](a, `document.getElementById('status').textContent`); st != "還沒有可以重問的問題。" {
		t.Errorf("status line: %q", st)
	}
	a.ask("今天出門忘記帶傘，結果淋成落湯雞")
	a.do(chromedp.SendKeys(chromedp.ID("input"), "請慢慢說"), chromedp.Click(chromedp.ID("send")))
	a.wait(`(function(){var b=document.querySelector('#log .msg.bot.streaming');return !!b && b.textContent.length > 20})()`, "a slow reply")
	a.do(chromedp.Click(chromedp.ID("stop")))
	a.wait(jsIdle, "the stopped reply")
	if note := eval[string](a, jsLastBot+`.querySelector('.note').textContent`); note != "⚠ 已停止，回覆不完整。" {
		t.Errorf("the stopped reply's note: %q", note)
	}
	a.screenshot(browsertest.ScreenshotDir(t), "webchat-zh-TW.png")
}

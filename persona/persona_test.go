package persona

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbchat/gonbchat/llm"
)

func TestLoadExample(t *testing.T) {
	for _, name := range []string{"lucky_vicky.yaml", "lucky_vicky.json"} {
		t.Run(name, func(t *testing.T) {
			p, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if p.Title != "員瑛式思考生成器" {
				t.Errorf("Title = %q", p.Title)
			}
			if !strings.HasPrefix(p.Character, "請用員瑛式思考") || !strings.HasSuffix(p.Character, "結尾。") {
				t.Errorf("Character = %q", p.Character)
			}
			if !strings.HasPrefix(p.Description, "嗨！我是你的「員瑛式思考生成器」") {
				t.Errorf("Description = %q", p.Description)
			}
			if len(p.Examples) < 2 || p.Examples[1] != "早上差一秒沒趕上公車" {
				t.Errorf("Examples = %q", p.Examples)
			}
			start := p.Start()
			if len(start) != 2 || start[0].Role != llm.System || start[0].Content != p.Character ||
				start[1].Role != llm.Assistant || start[1].Content != p.Description {
				t.Errorf("Start() = %+v", start)
			}
		})
	}
	p, err := Load("testdata/lucky_vicky.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Model != "llama-3.2-3b-preview" {
		t.Errorf("Model = %q", p.Model)
	}
	// The literal block keeps its paragraphs; the folded one joins its lines.
	if !strings.Contains(p.Description, "🌈\n\n無論是") || strings.Contains(p.Character, "\n") {
		t.Errorf("block scalars: description %q, character %q", p.Description, p.Character)
	}
}

func TestStartWithoutDescription(t *testing.T) {
	p := Persona{Title: "t", Character: "c"}
	if s := p.Start(); len(s) != 1 || s[0] != llm.SystemMsg("c") {
		t.Errorf("Start() = %+v", s)
	}
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                []string // all in the error
	}{
		{"unknown yaml field", "p.yaml", "title: t\ncharcter: c\n", []string{"p.yaml", "line 2", `"charcter"`, "title, character"}},
		{"unknown json field", "p.json", "{\"title\": \"t\",\n \"charcter\": \"c\"}", []string{"p.json", "line 2", `"charcter"`}},
		{"missing character", "p.yaml", "title: t\n", []string{"p.yaml", "character is empty"}},
		{"missing title", "p.json", `{"character": "c"}`, []string{"title is empty"}},
		{"both missing", "p.yaml", "description: d\n", []string{"title is empty", "character is empty"}},
		{"examples not a list", "p.yaml", "title: t\ncharacter: c\nexamples: one\n", []string{"line 3", `"examples"`, "want a list"}},
		{"examples json type", "p.json", "{\"title\": \"t\", \"character\": \"c\",\n\"examples\": [1, 2]}", []string{"line 2", `"examples"`, "list of strings"}},
		{"title a list", "p.yaml", "title: [a, b]\ncharacter: c\n", []string{"line 1", `"title"`, "want text"}},
		{"title json number", "p.json", `{"title": 5, "character": "c"}`, []string{`"title"`, "want a string", "a number"}},
		{"duplicate yaml", "p.yaml", "title: a\ncharacter: c\ntitle: b\n", []string{"line 3", "twice"}},
		{"duplicate json", "p.json", `{"title": "a", "character": "c", "title": "b"}`, []string{"twice"}},
		{"bad yaml", "p.yaml", "title: \"unclosed\ncharacter: c\n", []string{"p.yaml", "invalid YAML"}},
		{"bad json", "p.json", "{\"title\": \"t\",\n\"character\": \"c\",,}", []string{"p.json", "line 2", "invalid JSON"}},
		{"truncated json", "p.json", `{"title": "t"`, []string{"ends too early"}},
		{"json trailing", "p.json", `{"title": "t", "character": "c"} {}`, []string{"after the JSON object"}},
		{"yaml scalar root", "p.yaml", "just a line\n", []string{"want fields"}},
		{"two documents", "p.yaml", "title: a\ncharacter: c\n---\ntitle: b\n", []string{"more than one YAML document"}},
		{"alias", "p.yaml", "title: &x a\ncharacter: *x\n", []string{"aliases"}},
		{"empty", "p.yaml", "\n\n", []string{"empty"}},
		{"not utf8", "p.yaml", "title: \xff\xfe\ncharacter: c\n", []string{"not UTF-8"}},
		{"empty example", "p.yaml", "title: t\ncharacter: c\nexamples: [a, '  ']\n", []string{"examples[1] is empty"}},
		{"model with space", "p.yaml", "title: t\ncharacter: c\nmodel: gpt 4o\n", []string{"model", "space"}},
		{"title two lines", "p.yaml", "title: \"a\\nb\"\ncharacter: c\n", []string{"line break"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.file, tc.content))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Count(err.Error(), "persona:") != 1 {
				t.Errorf("error %q: want one \"persona:\" prefix", err)
			}
		})
	}
}

func TestLoadByContent(t *testing.T) {
	// No known extension: JSON is recognized by its brace, anything else is YAML.
	p, err := Load(write(t, "bot.persona", "\uFEFF  {\"title\": \"t\", \"character\": \"c\", \"examples\": null}"))
	if err != nil || p.Title != "t" {
		t.Fatalf("JSON by content: %+v, %v", p, err)
	}
	p, err = Load(write(t, "bot.txt", "title: ' spaced '\ncharacter: c\ndescription:\n"))
	if err != nil || p.Title != "spaced" || p.Description != "" {
		t.Fatalf("YAML by content: %+v, %v", p, err)
	}
	// A YAML number or boolean is text for a title.
	p, err = Load(write(t, "n.yaml", "title: 2024\ncharacter: true\n"))
	if err != nil || p.Title != "2024" || p.Character != "true" {
		t.Fatalf("scalars: %+v, %v", p, err)
	}
}

func TestLoadRefusesHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "KiB") {
		t.Errorf("huge file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := Persona{Title: "t", Character: "c"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	many := ok
	many.Examples = make([]string, MaxExamples+1)
	for i := range many.Examples {
		many.Examples[i] = "x"
	}
	long := ok
	long.Title = strings.Repeat("長", MaxTitleRunes+1)
	for name, p := range map[string]Persona{"too many examples": many, "long title": long} {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const example = `
ai_off: false
models:
  allowed: [gpt-4.1-mini, gpt-4.1-nano]
  aliases: {class: gpt-4.1-mini}
  default: class
max_output_tokens: 500
store: never
tutor: |
  Give hints, not whole solutions.
budgets:
  timezone: Asia/Shanghai
  reset: "06:00"
  student: {tokens: 20000, per: day}
  class:
    - {usd: 2.5, per: day}
    - {tokens: 1000000, per: week}
  overrides:
    alice: {tokens: 40000, per: day}
`

func TestParseExample(t *testing.T) {
	p, err := Parse([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if m, r := p.ResolveModel("class"); r != nil || m != "gpt-4.1-mini" {
		t.Errorf("alias: %q %v", m, r)
	}
	if m, r := p.ResolveModel(""); r != nil || m != "gpt-4.1-mini" {
		t.Errorf("default: %q %v", m, r)
	}
	if m, r := p.ResolveModel("gpt-4.1-nano"); r != nil || m != "gpt-4.1-nano" {
		t.Errorf("allowed: %q %v", m, r)
	}
	_, r := p.ResolveModel("gpt-5")
	if r == nil || r.Status != 400 || r.Param != "model" {
		t.Fatalf("gpt-5 not refused: %+v", r)
	}
	if want := `The model "gpt-5" is not available in this class; use "class" (gpt-4.1-mini) or "gpt-4.1-nano".`; r.Message != want {
		t.Errorf("message:\n got %s\nwant %s", r.Message, want)
	}
	if got := p.Clamp(0); got != 500 {
		t.Errorf("Clamp(0) = %d", got)
	}
	if got := p.Clamp(100); got != 100 {
		t.Errorf("Clamp(100) = %d", got)
	}
	if got := p.Clamp(9000); got != 500 {
		t.Errorf("Clamp(9000) = %d", got)
	}
	if len(p.Budgets.Class) != 2 || p.Budgets.Class[0].USD != 2.5 || p.Budgets.Class[1].Per != "week" {
		t.Errorf("class limits: %+v", p.Budgets.Class)
	}
	if l := p.StudentLimits("alice"); len(l) != 1 || l[0].Tokens != 40000 {
		t.Errorf("alice: %+v", l)
	}
	if l := p.StudentLimits("bob"); len(l) != 1 || l[0].Tokens != 20000 {
		t.Errorf("bob: %+v", l)
	}
	if got := p.ModelNames(); strings.Join(got, ",") != "class,gpt-4.1-mini,gpt-4.1-nano" {
		t.Errorf("ModelNames = %v", got)
	}
	if r := p.CheckOn(); r != nil {
		t.Errorf("AI on refused: %v", r)
	}
}

func TestOthersDefault(t *testing.T) {
	p, err := Parse([]byte("models: {allowed: [a], default: a, others: default}"))
	if err != nil {
		t.Fatal(err)
	}
	if m, r := p.ResolveModel("gpt-5"); r != nil || m != "a" {
		t.Errorf("others default: %q %v", m, r)
	}
}

func TestZeroPolicyAllowsAll(t *testing.T) {
	p, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, r := p.ResolveModel("anything"); r != nil || m != "anything" {
		t.Errorf("%q %v", m, r)
	}
	if p.Clamp(12345) != 12345 || p.Clamp(0) != 0 {
		t.Error("zero policy clamps")
	}
}

func TestAIOff(t *testing.T) {
	p, err := Parse([]byte("ai_off: true"))
	if err != nil {
		t.Fatal(err)
	}
	r := p.CheckOn()
	if r == nil || r.Message != DefaultAIOffMessage || r.Status != 403 {
		t.Fatalf("%+v", r)
	}
	p, _ = Parse([]byte("ai_off: true\nai_off_message: |\n  Exam until 11:00.\n  Good luck!\n"))
	if r := p.CheckOn(); r.Message != "Exam until 11:00. Good luck!" {
		t.Errorf("custom message not one line: %q", r.Message)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"max_ouput_tokens: 5", "field max_ouput_tokens not found"},
		{"budgets:\n  student: {tokens: 5, per: month}", "per must be day or week"},
		{"budgets:\n  student: {tokens: 5, usd: 1, per: day}", "exactly one of tokens and usd"},
		{"budgets:\n  student: {tokens: 5, per: day, typo: 1}", "line 2"},
		{"budgets:\n  reset: 25:00", "budgets.reset"},
		{"budgets:\n  timezone: Mars/Olympus", "budgets.timezone"},
		{"store: maybe", "store:"},
		{"models: {allowed: [a], aliases: {class: b}}", "not among models.allowed"},
		{"models: {others: default}", "models.default is not set"},
		{"ai_off: [", "did not find"},
	} {
		_, err := Parse([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

func TestPeriod(t *testing.T) {
	p, err := Parse([]byte("budgets:\n  timezone: Asia/Shanghai\n  reset: \"06:00\"\n  week_starts: monday\n  student: {tokens: 1, per: day}"))
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	// Wednesday 2025-01-15 05:00 in Shanghai: before the reset, so the day began Tuesday 06:00
	now := time.Date(2025, 1, 15, 5, 0, 0, 0, sh)
	s, e := p.Period("day", now)
	if !s.Equal(time.Date(2025, 1, 14, 6, 0, 0, 0, sh)) || !e.Equal(time.Date(2025, 1, 15, 6, 0, 0, 0, sh)) {
		t.Errorf("day: %v – %v", s, e)
	}
	s, e = p.Period("week", now)
	if !s.Equal(time.Date(2025, 1, 13, 6, 0, 0, 0, sh)) || !e.Equal(time.Date(2025, 1, 20, 6, 0, 0, 0, sh)) {
		t.Errorf("week: %v – %v", s, e)
	}
	if got := ResetPhrase("day", e); got != "it resets at 06:00" {
		t.Errorf("%q", got)
	}
	if got := ResetPhrase("week", e); got != "it resets on Monday at 06:00" {
		t.Errorf("%q", got)
	}
}

func TestWatcherReloadsAndKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte("max_output_tokens: 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes := make(chan error, 10)
	w, err := NewWatcher(path, func(p *Policy, err error) { changes <- err })
	if err != nil {
		t.Fatal(err)
	}
	if w.Current().MaxOutputTokens != 100 {
		t.Fatal("not loaded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx, 10*time.Millisecond)

	os.WriteFile(path, []byte("max_output_tokens: 200\n"), 0o644)
	if err := waitChange(t, changes); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if w.Current().MaxOutputTokens != 200 {
		t.Fatalf("after edit: %d", w.Current().MaxOutputTokens)
	}

	os.WriteFile(path, []byte("max_output_tokens: -3\n"), 0o644)
	err = waitChange(t, changes)
	if err == nil || !strings.Contains(err.Error(), "previous policy stays") {
		t.Fatalf("bad edit: %v", err)
	}
	if w.Current().MaxOutputTokens != 200 || w.Err() == nil {
		t.Fatalf("bad edit replaced the policy: %d, %v", w.Current().MaxOutputTokens, w.Err())
	}

	os.WriteFile(path, []byte("ai_off: true\n"), 0o644)
	if err := waitChange(t, changes); err != nil {
		t.Fatal(err)
	}
	if !w.Current().AIOff || w.Err() != nil {
		t.Fatal("fixed edit not in force")
	}
}

func waitChange(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s")
		return nil
	}
}

func TestExampleParses(t *testing.T) {
	p, err := Parse([]byte(Example))
	if err != nil {
		t.Fatal(err)
	}
	if p.Tutor == "" || len(p.Budgets.Student) != 2 || p.Budgets.Class[0].USD != 2 || p.MaxOutputTokens != 800 {
		t.Errorf("%+v", p)
	}
	if u := p.UnpricedModels(); len(u) != 0 {
		t.Errorf("the example's models have no price: %v", u)
	}
}

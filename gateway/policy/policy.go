// Package policy is the class policy of the gonbchat gateway: one YAML file the teacher edits
// (which models, how long a reply, whether responses are stored, a tutor instruction, budgets,
// the AI-off switch for exams), parsed strictly so that a typo is an error naming its line, and
// reloaded by a Watcher without restarting the gateway.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gonbchat/gonbchat/llm"
)

// Policy is a parsed policy file. The zero Policy allows everything: any model, no clamp, no
// budget, AI on.
type Policy struct {
	// AIOff switches the AI off for everyone (an exam): every model request is refused with
	// AIOffMessage.
	AIOff        bool   `yaml:"ai_off"`
	AIOffMessage string `yaml:"ai_off_message"`

	Models Models `yaml:"models"`

	// MaxOutputTokens clamps max_output_tokens (Responses) and max_completion_tokens /
	// max_tokens (Chat Completions); a request that sets none gets this one. 0: no clamp.
	MaxOutputTokens int64 `yaml:"max_output_tokens"`

	// Store is "" (as the student asks), "never" (store=false forced: no stored responses, no
	// previous_response_id chains) or "always".
	Store string `yaml:"store"`

	// Tutor is prepended to every request: to the Responses instructions, or as a leading
	// system message of a Chat Completions request.
	Tutor string `yaml:"tutor"`

	Budgets Budgets `yaml:"budgets"`

	// Prices adds or overrides model prices (USD per million tokens) for the money budgets and
	// the report, e.g. for another provider's models.
	Prices map[string]Price `yaml:"prices"`

	loc *time.Location
}

// Models says which models students may use.
type Models struct {
	// Allowed lists the upstream model names students may ask for (after aliases). Empty: any.
	Allowed []string `yaml:"allowed"`
	// Aliases maps a name students use ("class") to an upstream model.
	Aliases map[string]string `yaml:"aliases"`
	// Default is the model (or alias) used when a request names none, and, with Others set to
	// "default", instead of a model that is not allowed.
	Default string `yaml:"default"`
	// Others is what happens to a model that is not allowed: "refuse" (the default) or
	// "default" (answered by Default instead).
	Others string `yaml:"others"`
}

// Price is a model's price in USD per million tokens.
type Price struct {
	Input  float64 `yaml:"input"`
	Output float64 `yaml:"output"`
}

// Budgets are the spending limits.
type Budgets struct {
	// Timezone of the reset time (an IANA name such as Asia/Shanghai). Default: the gateway's.
	Timezone string `yaml:"timezone"`
	// Reset is the time of day ("HH:MM") a period starts. Default 00:00.
	Reset string `yaml:"reset"`
	// WeekStarts is the day a week starts (monday by default).
	WeekStarts string `yaml:"week_starts"`
	// Student limits apply to each student on their own; Class limits to all of them together.
	Student Limits `yaml:"student"`
	Class   Limits `yaml:"class"`
	// Overrides replaces the Student limits for the students it names.
	Overrides map[string]Limits `yaml:"overrides"`
}

// Limits is a list of limits; in the file it may be written as one limit or a list of them.
type Limits []Limit

// Limit caps tokens (input + output) or money per day or per week. Exactly one of Tokens and
// USD is set.
type Limit struct {
	Tokens int64   `yaml:"tokens"`
	USD    float64 `yaml:"usd"`
	Per    string  `yaml:"per"` // "day" or "week"
}

// UnmarshalYAML accepts one limit or a list of limits.
func (l *Limits) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var one Limit
		if err := decodeStrict(n, &one); err != nil {
			return err
		}
		*l = Limits{one}
		return nil
	}
	var many []Limit
	if err := decodeStrict(n, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// decodeStrict decodes a node refusing unknown fields (yaml.Node.Decode ignores them).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		// the line numbers of a re-encoded node are not the file's: name the node's line
		return fmt.Errorf("line %d: %s", n.Line, strings.TrimPrefix(stripLine(err.Error()), "yaml: "))
	}
	return nil
}

func stripLine(s string) string {
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	s = strings.TrimSpace(s)
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "line ") {
		s = s[i+2:]
	}
	return s
}

// Load reads and checks a policy file.
func Load(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse parses and checks a policy. Unknown fields are errors (a misspelt limit must not be
// silently ignored).
func Parse(b []byte) (*Policy, error) {
	p := &Policy{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(p); err != nil && !errors.Is(err, io.EOF) { // an empty file is the zero policy
		return nil, errors.New(strings.TrimPrefix(strings.ReplaceAll(err.Error(), "yaml: unmarshal errors:\n  ", ""), "yaml: "))
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Policy) check() error {
	var errs []error
	switch p.Store {
	case "", "never", "always":
	default:
		errs = append(errs, fmt.Errorf("store: %q is not one of never, always (or leave it out)", p.Store))
	}
	switch p.Models.Others {
	case "", "refuse", "default":
	default:
		errs = append(errs, fmt.Errorf("models.others: %q is not one of refuse, default", p.Models.Others))
	}
	if p.Models.Others == "default" && p.Models.Default == "" {
		errs = append(errs, errors.New("models.others is default but models.default is not set"))
	}
	if d := p.Models.Default; d != "" && len(p.Models.Allowed) > 0 && !slices.Contains(p.Models.Allowed, p.alias(d)) {
		errs = append(errs, fmt.Errorf("models.default %q is not among models.allowed", d))
	}
	for a, m := range p.Models.Aliases {
		if len(p.Models.Allowed) > 0 && !slices.Contains(p.Models.Allowed, m) {
			errs = append(errs, fmt.Errorf("models.aliases: %s names %q, which is not among models.allowed", a, m))
		}
	}
	if p.MaxOutputTokens < 0 {
		errs = append(errs, errors.New("max_output_tokens must not be negative"))
	}
	b := &p.Budgets
	loc := time.Local
	if b.Timezone != "" {
		l, err := time.LoadLocation(b.Timezone)
		if err != nil {
			errs = append(errs, fmt.Errorf("budgets.timezone: %v", err))
		} else {
			loc = l
		}
	}
	p.loc = loc
	if _, _, err := p.resetClock(); err != nil {
		errs = append(errs, err)
	}
	if _, err := p.weekStart(); err != nil {
		errs = append(errs, err)
	}
	checkLimits := func(where string, ls Limits) {
		for i, l := range ls {
			name := where
			if len(ls) > 1 {
				name = fmt.Sprintf("%s[%d]", where, i)
			}
			switch {
			case (l.Tokens > 0) == (l.USD > 0):
				errs = append(errs, fmt.Errorf("%s: set exactly one of tokens and usd (a positive number)", name))
			case l.Per != "day" && l.Per != "week":
				errs = append(errs, fmt.Errorf("%s: per must be day or week, not %q", name, l.Per))
			}
		}
	}
	checkLimits("budgets.student", b.Student)
	checkLimits("budgets.class", b.Class)
	for _, s := range sortedKeys(b.Overrides) {
		checkLimits("budgets.overrides."+s, b.Overrides[s])
	}
	for m, pr := range p.Prices {
		if pr.Input < 0 || pr.Output < 0 {
			errs = append(errs, fmt.Errorf("prices.%s: prices must not be negative", m))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ApplyPrices registers the policy's prices with package llm (used for costs everywhere in the
// process).
func (p *Policy) ApplyPrices() {
	for m, pr := range p.Prices {
		llm.SetPrice(m, llm.Price{Input: pr.Input, Output: pr.Output})
	}
}

// UnpricedModels lists the allowed models (and aliases' targets) that have no known price while
// a money budget is set: their requests would count as free.
func (p *Policy) UnpricedModels() []string {
	if !p.hasMoneyBudget() {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	names := append(slices.Clone(p.Models.Allowed), p.aliasTargets()...)
	for _, m := range names {
		if seen[m] {
			continue
		}
		seen[m] = true
		if _, ok := p.Prices[m]; ok {
			continue
		}
		if _, ok := llm.PriceOf(m); !ok {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

func (p *Policy) aliasTargets() []string {
	var out []string
	for _, k := range sortedKeys(p.Models.Aliases) {
		out = append(out, p.Models.Aliases[k])
	}
	return out
}

func (p *Policy) hasMoneyBudget() bool {
	all := append(slices.Clone(p.Budgets.Student), p.Budgets.Class...)
	for _, o := range p.Budgets.Overrides {
		all = append(all, o...)
	}
	for _, l := range all {
		if l.USD > 0 {
			return true
		}
	}
	return false
}

func (p *Policy) alias(name string) string {
	if m, ok := p.Models.Aliases[name]; ok {
		return m
	}
	return name
}

// Refusal is a request the policy refuses: Message is the one line the student sees.
type Refusal struct {
	Status  int    // HTTP status
	Type    string // OpenAI error type
	Code    string // OpenAI error code
	Param   string // the request parameter at fault, if any
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// DefaultAIOffMessage is what students see while the AI is off, unless the policy says otherwise.
const DefaultAIOffMessage = "AI is switched off for the exam."

// CheckOn refuses every model request while the AI is off.
func (p *Policy) CheckOn() *Refusal {
	if !p.AIOff {
		return nil
	}
	msg := p.AIOffMessage
	if msg == "" {
		msg = DefaultAIOffMessage
	}
	return &Refusal{Status: 403, Type: "permission_error", Code: "ai_off", Message: oneLine(msg)}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ResolveModel turns the model a student asked for into the upstream model, or refuses it.
func (p *Policy) ResolveModel(requested string) (string, *Refusal) {
	if requested == "" {
		if p.Models.Default == "" {
			return "", nil // the upstream says what is missing
		}
		return p.alias(p.Models.Default), nil
	}
	m := p.alias(requested)
	if len(p.Models.Allowed) == 0 || slices.Contains(p.Models.Allowed, m) {
		return m, nil
	}
	if p.Models.Others == "default" {
		return p.alias(p.Models.Default), nil
	}
	return "", &Refusal{Status: 400, Type: "invalid_request_error", Code: "model_not_allowed", Param: "model",
		Message: fmt.Sprintf("The model %q is not available in this class; use %s.", requested, p.offer())}
}

// offer names the models a student may use: aliases first ("class" (gpt-4.1-mini)).
func (p *Policy) offer() string {
	var names []string
	covered := map[string]bool{}
	for _, a := range sortedKeys(p.Models.Aliases) {
		names = append(names, fmt.Sprintf("%q (%s)", a, p.Models.Aliases[a]))
		covered[p.Models.Aliases[a]] = true
	}
	for _, m := range p.Models.Allowed {
		if !covered[m] {
			names = append(names, fmt.Sprintf("%q", m))
		}
	}
	switch len(names) {
	case 0:
		return "another model"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ModelNames lists what GET /v1/models shows students: the aliases and the allowed models.
// Empty when any model is allowed.
func (p *Policy) ModelNames() []string {
	if len(p.Models.Allowed) == 0 {
		return nil
	}
	out := sortedKeys(p.Models.Aliases)
	for _, m := range p.Models.Allowed {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Clamp returns the max output tokens to send given what the student asked for (0: nothing).
func (p *Policy) Clamp(asked int64) int64 {
	if p.MaxOutputTokens == 0 {
		return asked
	}
	if asked <= 0 || asked > p.MaxOutputTokens {
		return p.MaxOutputTokens
	}
	return asked
}

// Location is the time zone of the budgets' reset time.
func (p *Policy) Location() *time.Location {
	if p.loc == nil {
		return time.Local
	}
	return p.loc
}

func (p *Policy) resetClock() (h, m int, err error) {
	r := p.Budgets.Reset
	if r == "" {
		return 0, 0, nil
	}
	t, err := time.Parse("15:04", r)
	if err != nil {
		return 0, 0, fmt.Errorf("budgets.reset: %q is not a time of day such as 00:00 or 06:30", r)
	}
	return t.Hour(), t.Minute(), nil
}

func (p *Policy) weekStart() (time.Weekday, error) {
	w := strings.ToLower(p.Budgets.WeekStarts)
	if w == "" {
		return time.Monday, nil
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.ToLower(d.String()) == w {
			return d, nil
		}
	}
	return 0, fmt.Errorf("budgets.week_starts: %q is not a day of the week", p.Budgets.WeekStarts)
}

// Period returns the start and end of the day or week ("day", "week") that holds now.
func (p *Policy) Period(per string, now time.Time) (start, end time.Time) {
	h, m, _ := p.resetClock()
	now = now.In(p.Location())
	start = time.Date(now.Year(), now.Month(), now.Day(), h, m, 0, 0, now.Location())
	if start.After(now) {
		start = start.AddDate(0, 0, -1)
	}
	if per == "week" {
		ws, _ := p.weekStart()
		for start.Weekday() != ws {
			start = start.AddDate(0, 0, -1)
		}
		return start, start.AddDate(0, 0, 7)
	}
	return start, start.AddDate(0, 0, 1)
}

// ResetPhrase says when a period ending at end resets, for the student's one line:
// "it resets at 00:00" (a day) or "it resets on Monday at 00:00" (a week).
func ResetPhrase(per string, end time.Time) string {
	if per == "week" {
		return fmt.Sprintf("it resets on %s at %s", end.Weekday(), end.Format("15:04"))
	}
	return "it resets at " + end.Format("15:04")
}

// StudentLimits returns the limits that apply to one student.
func (p *Policy) StudentLimits(student string) Limits {
	if o, ok := p.Budgets.Overrides[student]; ok {
		return o
	}
	return p.Budgets.Student
}

// Summary describes the policy in a few lines, for the teacher (gonbchat gateway policy check,
// the admin page).
func (p *Policy) Summary() []string {
	var out []string
	if p.AIOff {
		out = append(out, "AI: OFF ("+p.CheckOn().Message+")")
	} else {
		out = append(out, "AI: on")
	}
	if len(p.Models.Allowed) == 0 {
		out = append(out, "models: any")
	} else {
		out = append(out, "models: "+p.offer())
	}
	if p.Models.Default != "" {
		out = append(out, "default model: "+p.Models.Default)
	}
	if p.MaxOutputTokens > 0 {
		out = append(out, fmt.Sprintf("max output tokens: %d", p.MaxOutputTokens))
	}
	switch p.Store {
	case "never":
		out = append(out, "store: never (store=false forced)")
	case "always":
		out = append(out, "store: always")
	}
	if p.Tutor != "" {
		out = append(out, "tutor instruction: "+truncate(oneLine(p.Tutor), 60))
	}
	for _, l := range p.Budgets.Student {
		out = append(out, "each student: "+l.String())
	}
	for _, l := range p.Budgets.Class {
		out = append(out, "the class: "+l.String())
	}
	for _, s := range sortedKeys(p.Budgets.Overrides) {
		for _, l := range p.Budgets.Overrides[s] {
			out = append(out, s+": "+l.String())
		}
	}
	if len(p.Budgets.Student)+len(p.Budgets.Class)+len(p.Budgets.Overrides) > 0 {
		h, m, _ := p.resetClock()
		out = append(out, fmt.Sprintf("budgets reset at %02d:%02d %s", h, m, p.Location()))
	}
	if u := p.UnpricedModels(); len(u) > 0 {
		out = append(out, "WARNING: no price for "+strings.Join(u, ", ")+": add them under prices, or the money budgets count them as free")
	}
	return out
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func (l Limit) String() string {
	if l.Tokens > 0 {
		return fmt.Sprintf("%d tokens per %s", l.Tokens, l.Per)
	}
	return fmt.Sprintf("$%.2f per %s", l.USD, l.Per)
}

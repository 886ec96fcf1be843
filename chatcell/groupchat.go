//go:build !gonbchat_kernel

package chatcell

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/llm"
)

// GroupChat is a group chat role-play (openai2's GroupChat): roles with descriptions, the
// dialogue so far, and a model that writes the next remarks for the speakers you name.
//
//	var group = chatcell.NewGroupChat(chatcell.WithName("诗人"))
//
//	%%
//	group.SetRole("苏轼", "宋朝诗人，他的词风格独特，既有儒家的教诲，又有生活的乐趣。")
//	group.SetRole("李清照", "宋代著名的女词人，其词句优美，情感真挚。")
//	group.AddDialog("苏轼", []string{"李清照"}, "你好呀")
//	remarks := group.Ask(chatcell.Says("苏轼", "李清照"), chatcell.Says("李清照", "苏轼"))
//
// Ask shows the remarks as a dialogue while they stream and returns them typed; the dialogue
// keeps them, so the next Ask continues the scene. The request uses structured outputs (a
// strict JSON schema whose speakers and audiences are the names asked for); a server that
// refuses them gets JSON mode, then a plain prompt, and an answer that is not the remarks asked
// for is asked again once. Like the other chats, a GroupChat lives from cell to cell under its
// name. It is safe for concurrent use.
type GroupChat struct {
	mu  sync.Mutex
	cfg *config
	cn  *conn
	st  groupState
	err error
}

// Role is a member of a group chat: a name and who they are.
type Role struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Remark is one line of a group chat's dialogue: who said it, to whom, and what.
type Remark struct {
	Speaker   string   `json:"speaker"`
	Audiences []string `json:"audiences"`
	Remark    string   `json:"remark"`
	// Partial marks a remark cut short (an interrupt, a broken stream): what arrived.
	Partial bool `json:"partial,omitempty"`
}

// Cue asks for one remark: who speaks, and to whom. Make it with Says.
type Cue struct {
	Speaker   string
	Audiences []string
}

// Says asks for a remark of speaker to audiences (to every other role when none is given).
func Says(speaker string, audiences ...string) Cue {
	return Cue{Speaker: speaker, Audiences: audiences}
}

type groupState struct {
	Version int      `json:"version"`
	Roles   []Role   `json:"roles"`
	Dialog  []Remark `json:"dialog"`
	Tally   tally    `json:"tally"`
	// Formats remembers, per model, a server's refusal of structured outputs: the format
	// that model gets instead ("json_object" or "text").
	Formats map[string]string `json:"formats,omitempty"`
}

func (s *groupState) check() error {
	for _, r := range s.Roles {
		if err := validRoleName("en", r.Name); err != nil {
			return err
		}
	}
	return nil
}

// GroupOption configures NewGroupChat: the options of every chat (WithModel, WithTemperature,
// WithLanguage…), how it connects (WithAPIKey, WithKeyPool, WithProvider, WithBaseURL…), its
// name (WithName, WithStateDir), and WithBackend. WithInstructions and WithSystem add to the
// group's instructions (a scene, a style), after the roles and the rules of the answer.
type GroupOption interface{ forNewGroup(*config) }

func (o Option) forNewGroup(c *config)         { o.set(c) }
func (o ConnOption) forNewGroup(c *config)     { o.set(c) }
func (o NameOption) forNewGroup(c *config)     { o.set(c) }
func (o MessagesOption) forNewGroup(c *config) { o.set(c) }

// NewGroupChat returns the group chat named by WithName (default DefaultName), continuing it
// (its roles and dialogue) if an earlier GoNB cell started it.
func NewGroupChat(opts ...GroupOption) *GroupChat {
	cfg := defaults()
	for _, o := range opts {
		o.forNewGroup(cfg)
	}
	g := &GroupChat{cfg: cfg, st: groupState{Version: 1}}
	if cfg.err() == nil {
		if err := settleBackend(cfg); err != nil {
			cfg.errs = append(cfg.errs, err)
		}
	}
	if err := cfg.err(); err != nil {
		g.err = wrap(cfg.lang, err)
		cfg.errs = []error{g.err}
		if !cfg.quiet {
			display.Error(g.err.Error())
		}
		return g
	}
	if _, err := loadState(g.path(), &g.st); err != nil {
		g.report(err)
	}
	return g
}

func (g *GroupChat) path() string { return stateFile(g.cfg, "groups") }

func (g *GroupChat) persist() error {
	if err := saveState(g.path(), &g.st); err != nil {
		return fmt.Errorf("%s: %w", tr(g.cfg.lang, msgSavingState), err)
	}
	return nil
}

func (g *GroupChat) conn() *conn {
	if g.cn == nil {
		g.cn = resolveConn(g.cfg)
	}
	return g.cn
}

func (g *GroupChat) ready() error {
	if g.cfg == nil {
		return errors.New(gtr(envLanguage(), gcNotCreated))
	}
	return nil
}

// report records err as the last error and shows it as one line (unless quiet).
func (g *GroupChat) report(err error) {
	g.err = wrap(g.cfg.lang, err)
	if g.err != nil && !g.cfg.quiet {
		display.Error(g.err.Error())
	}
}

// do runs a verb under the lock and reports its error.
func (g *GroupChat) do(fn func() error) error {
	if err := g.ready(); err != nil {
		display.Error(err.Error())
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.cfg.err()
	if err == nil {
		err = fn()
	}
	g.report(err)
	return g.err
}

func validRoleName(lang, name string) error {
	if name == "" || len([]rune(name)) > 64 || strings.ContainsAny(name, "\r\n") || strings.TrimSpace(name) != name {
		return errors.New(gtr(lang, gcBadRoleName, name))
	}
	return nil
}

// SetRole adds a role, or changes the description of one: roles keep the order they were
// added in. The next request describes the roles as they are then.
func (g *GroupChat) SetRole(name, description string) error {
	return g.do(func() error {
		name = strings.TrimSpace(name)
		if err := validRoleName(g.cfg.lang, name); err != nil {
			return err
		}
		if i := g.roleIndex(name); i >= 0 {
			g.st.Roles[i].Description = description
		} else {
			g.st.Roles = append(g.st.Roles, Role{Name: name, Description: description})
		}
		return g.persist()
	})
}

// RemoveRole takes a role out of the group; what it said stays in the dialogue.
func (g *GroupChat) RemoveRole(name string) error {
	return g.do(func() error {
		i := g.roleIndex(strings.TrimSpace(name))
		if i < 0 {
			return errors.New(gtr(g.cfg.lang, gcNoSuchRole, name))
		}
		g.st.Roles = slices.Delete(g.st.Roles, i, i+1)
		return g.persist()
	})
}

// Roles returns the roles, in order.
func (g *GroupChat) Roles() []Role {
	if g.ready() != nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.st.Roles)
}

func (g *GroupChat) roleIndex(name string) int {
	return slices.IndexFunc(g.st.Roles, func(r Role) bool { return r.Name == name })
}

func (g *GroupChat) roleNames() string {
	var names []string
	for _, r := range g.st.Roles {
		names = append(names, r.Name)
	}
	return strings.Join(names, ", ")
}

// settle checks a cue against the roles: the speaker and the audiences must be roles; no
// audiences means every other role; an audience named twice counts once.
func (g *GroupChat) settle(c Cue) (Cue, error) {
	lang := g.cfg.lang
	if len(g.st.Roles) == 0 {
		return c, errors.New(gtr(lang, gcNoRoles))
	}
	c.Speaker = strings.TrimSpace(c.Speaker)
	if g.roleIndex(c.Speaker) < 0 {
		return c, errors.New(gtr(lang, gcUnknownRole, c.Speaker, g.roleNames()))
	}
	var aud []string
	for _, a := range c.Audiences {
		a = strings.TrimSpace(a)
		if g.roleIndex(a) < 0 {
			return c, errors.New(gtr(lang, gcUnknownRole, a, g.roleNames()))
		}
		if !slices.Contains(aud, a) {
			aud = append(aud, a)
		}
	}
	if len(aud) == 0 {
		for _, r := range g.st.Roles {
			if r.Name != c.Speaker {
				aud = append(aud, r.Name)
			}
		}
		if len(aud) == 0 {
			return c, errors.New(gtr(lang, gcNobody, c.Speaker))
		}
	}
	c.Audiences = aud
	return c, nil
}

// AddDialog adds a remark to the dialogue, as if it had been said (openai2's add_dialog):
// the model continues from it.
func (g *GroupChat) AddDialog(speaker string, audiences []string, remark string) error {
	return g.do(func() error {
		c, err := g.settle(Cue{Speaker: speaker, Audiences: audiences})
		if err != nil {
			return err
		}
		if strings.TrimSpace(remark) == "" {
			return errors.New(gtr(g.cfg.lang, gcEmptyRemark))
		}
		g.st.Dialog = append(g.st.Dialog, Remark{Speaker: c.Speaker, Audiences: c.Audiences, Remark: remark})
		return g.persist()
	})
}

// Dialog returns a copy of the dialogue so far.
func (g *GroupChat) Dialog() []Remark {
	if g.ready() != nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Remark, len(g.st.Dialog))
	for i, r := range g.st.Dialog {
		r.Audiences = slices.Clone(r.Audiences)
		out[i] = r
	}
	return out
}

// Ask has the model write the remarks cued, in that order, shows them as a dialogue while they
// stream, adds them to the dialogue and returns them (nil on error; the error is shown as one
// line, and Err returns it). The usage line follows.
func (g *GroupChat) Ask(cues ...Cue) []Remark {
	if err := g.ready(); err != nil {
		display.Error(err.Error())
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	remarks, rep, interrupted, err := g.turn(context.Background(), cues, true)
	g.report(err)
	if rep != nil && err == nil && !g.cfg.quiet {
		display.Info(usageLine(g.cfg, g.conn(), rep, g.st.Tally))
	}
	if interrupted {
		reraise()
	}
	return remarks
}

// Reply is Ask for Go programs: it shows nothing and returns the error.
func (g *GroupChat) Reply(ctx context.Context, cues ...Cue) ([]Remark, error) {
	if err := g.ready(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	remarks, _, _, err := g.turn(ctx, cues, false)
	g.err = wrap(g.cfg.lang, err)
	return remarks, g.err
}

// The formats a group chat asks for, from the best to the plainest.
const (
	formatSchema = "json_schema"
	formatJSON   = "json_object"
	formatPlain  = "text"
)

func nextFormat(f string) string {
	switch f {
	case formatSchema:
		return formatJSON
	case formatJSON:
		return formatPlain
	}
	return ""
}

func formatName(lang, f string) string {
	switch f {
	case formatSchema:
		return gtr(lang, gcModeSchema)
	case formatJSON:
		return gtr(lang, gcModeJSON)
	}
	return gtr(lang, gcModePlain)
}

// refusesFormat reports a server's refusal of the output format asked for: a 400 (or 422)
// that names response_format, text.format, json_schema or json_object.
func refusesFormat(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 && apiErr.StatusCode != 422 {
		return false
	}
	s := strings.ToLower(apiErr.Message + " " + apiErr.Param + " " + apiErr.Code + " " + apiErr.RawJSON())
	for _, w := range []string{"response_format", "text.format", "json_schema", "json_object"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// request builds the request for cues in format f.
func (g *GroupChat) request(cues []Cue, f, note string) *Request {
	cfg := g.cfg
	var extra []string
	if cfg.instructionsSet {
		extra = append(extra, cfg.instructions)
	}
	if cfg.systemSet {
		extra = append(extra, cfg.system)
	}
	instructions, user := groupPrompt(cfg.lang, g.st.Roles, extra, g.st.Dialog, cues, note)
	store := false
	if cfg.store != nil {
		store = *cfg.store
	}
	req := &Request{Model: cfg.model, Instructions: instructions, Input: []llm.Message{llm.UserMsg(user)}, Store: &store, Params: cfg.params}
	switch f {
	case formatSchema:
		req.Format = &OutputFormat{Name: "group_remarks", Schema: remarksSchema(cues), Strict: true}
	case formatJSON:
		req.Format = &OutputFormat{Name: "group_remarks"}
	}
	return req
}

// turn asks for the remarks cued: it falls back to a plainer format when the server refuses
// one, asks once more when the answer is not the remarks asked for, and keeps what arrived of
// an answer cut short. The caller holds the lock.
func (g *GroupChat) turn(ctx context.Context, cues []Cue, show bool) ([]Remark, *Reply, bool, error) {
	cfg := g.cfg
	lang := cfg.lang
	if err := cfg.err(); err != nil {
		return nil, nil, false, err
	}
	if len(cues) == 0 {
		return nil, nil, false, errors.New(gtr(lang, gcNoCues))
	}
	settled := make([]Cue, len(cues))
	for i, c := range cues {
		s, err := g.settle(c)
		if err != nil {
			return nil, nil, false, err
		}
		settled[i] = s
	}
	cues = settled
	f := formatSchema
	if known := g.st.Formats[cfg.model]; known != "" {
		f = known
	}
	askedAgain := false
	note := ""
	for {
		req := g.request(cues, f, note)
		var (
			rep         *Reply
			partial     string
			interrupted bool
			err         error
		)
		if show {
			cell := newDialogueCell(newCell(lang), lang, cues, askedAgain)
			rep, partial, interrupted, err = showTurnIn(ctx, cell, cfg, g.conn(), req, nil)
		} else {
			rep, partial, err = run(ctx, cfg, g.conn(), cfg.backend, req, hooks{})
		}
		if err != nil {
			if partial == "" && refusesFormat(err) && nextFormat(f) != "" {
				if show && !cfg.quiet {
					display.Info(gtr(lang, gcFallback, formatName(lang, f), formatName(lang, nextFormat(f))))
				}
				f = nextFormat(f)
				if g.st.Formats == nil {
					g.st.Formats = map[string]string{}
				}
				g.st.Formats[cfg.model] = f
				g.persist()
				continue
			}
			kept := keptRemarks(partial, cues)
			if len(kept) == 0 {
				return nil, nil, interrupted, wrap(lang, err, refusalHint(cfg, g.conn(), err))
			}
			g.st.Dialog = append(g.st.Dialog, kept...)
			err = wrap(lang, err, tr(lang, msgHintHistCut))
			if perr := g.persist(); perr != nil {
				err = perr
			}
			return kept, nil, interrupted, err
		}
		got, ok := parseRemarks(rep.Text)
		if why := checkRemarks(lang, got, ok, cues); why != "" {
			g.st.Tally.add(rep, false)
			if !askedAgain {
				askedAgain, note = true, why
				continue
			}
			g.persist()
			return nil, rep, false, errors.New(gtr(lang, gcMismatch, why))
		}
		remarks := make([]Remark, len(cues))
		for i, c := range cues {
			remarks[i] = Remark{Speaker: c.Speaker, Audiences: slices.Clone(c.Audiences), Remark: got[i].Remark}
		}
		g.st.Dialog = append(g.st.Dialog, remarks...)
		g.st.Tally.add(rep, true)
		return remarks, rep, false, g.persist()
	}
}

// keptRemarks is what arrived of an answer cut short: the remarks asked for whose text began,
// in order, the last one marked partial if it did not end.
func keptRemarks(partial string, cues []Cue) []Remark {
	byIndex := map[int]*scanRemark{}
	for _, r := range scanRemarks(partial) {
		byIndex[r.index] = r
	}
	var kept []Remark
	for i, c := range cues {
		r := byIndex[i]
		if r == nil || r.text.Len() == 0 || r.speaker != "" && r.speaker != c.Speaker {
			break
		}
		kept = append(kept, Remark{Speaker: c.Speaker, Audiences: slices.Clone(c.Audiences), Remark: r.text.String(), Partial: !r.complete})
		if !r.complete {
			break
		}
	}
	return kept
}

// ShowDialog shows the roles and the dialogue so far.
func (g *GroupChat) ShowDialog() error {
	return g.do(func() error {
		lang := g.cfg.lang
		var roles []string
		for _, r := range g.st.Roles {
			roles = append(roles, "- **"+r.Name+"**: "+r.Description)
		}
		blocks := []string{"**" + gtr(lang, gcRoles) + "**\n\n" + strings.Join(roles, "\n")}
		if len(g.st.Dialog) == 0 {
			blocks = append(blocks, gtr(lang, gcEmptyDialog))
		}
		for i, r := range g.st.Dialog {
			blocks = append(blocks, remarkMarkdown(lang, i, r))
		}
		display.MarkdownBlocks(blocks...)
		return nil
	})
}

// remarkMarkdown is one remark of the dialogue, numbered (pos < 0: not numbered).
func remarkMarkdown(lang string, pos int, r Remark) string {
	head := gtr(lang, gcHeader, r.Speaker, strings.Join(r.Audiences, gtr(lang, gcAudienceSep)))
	if pos >= 0 {
		head = fmt.Sprintf("[%d] ", pos) + head
	}
	text := strings.ReplaceAll(r.Remark, "\n", "  \n")
	if r.Partial {
		text += " *(" + tr(lang, msgMarkCut) + ")*"
	}
	return head + text
}

// Rollback removes the last n remarks of the dialogue and shows them.
func (g *GroupChat) Rollback(n int) error {
	return g.do(func() error {
		lang := g.cfg.lang
		if n < 1 {
			return fmt.Errorf("%s", tr(lang, msgRollbackN, n))
		}
		if n > len(g.st.Dialog) {
			return errors.New(gtr(lang, gcRollbackTooFar, n, len(g.st.Dialog)))
		}
		cut := len(g.st.Dialog) - n
		removed := g.st.Dialog[cut:]
		g.st.Dialog = slices.Clone(g.st.Dialog[:cut])
		if !g.cfg.quiet {
			blocks := []string{tr(lang, msgRolledBack)}
			for _, r := range removed {
				blocks = append(blocks, remarkMarkdown(lang, -1, r))
			}
			display.MarkdownBlocks(blocks...)
		}
		return g.persist()
	})
}

// Reset empties the dialogue and starts the totals again; the roles stay.
func (g *GroupChat) Reset() error {
	return g.do(func() error {
		g.st.Dialog, g.st.Tally = nil, tally{}
		return g.persist()
	})
}

// ResetAPIKey makes the next requests use key; the roles and the dialogue are kept.
func (g *GroupChat) ResetAPIKey(key string) error {
	return g.do(func() error { return g.reconnect(WithAPIKey(key)) })
}

// ResetKeyPool makes the next requests use the keys of p in turn.
func (g *GroupChat) ResetKeyPool(p KeyPool) error {
	return g.do(func() error { return g.reconnect(WithKeyPool(p)) })
}

func (g *GroupChat) reconnect(o ConnOption) error {
	next := g.cfg.clone()
	o.set(next)
	if err := next.err(); err != nil {
		return err
	}
	g.cfg, g.cn = next, nil
	return nil
}

// Err returns the error of the group's last action, nil if it succeeded.
func (g *GroupChat) Err() error {
	if err := g.ready(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Name returns the group's name.
func (g *GroupChat) Name() string {
	if g.ready() != nil {
		return ""
	}
	return g.cfg.name
}

// Source says whether the group talks to a live server or the offline mirror model.
func (g *GroupChat) Source() Source {
	if g.ready() != nil {
		return ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conn().source
}

func (g *GroupChat) snapshot() tally {
	if g.ready() != nil {
		return tally{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st.Tally
}

// Usage returns the tokens of every request of the group (asked-again ones included).
func (g *GroupChat) Usage() llm.Usage { return g.snapshot().Usage }

// Turns returns how many times the group's remarks were written.
func (g *GroupChat) Turns() int { return g.snapshot().Turns }

// Requests returns how many requests the group made.
func (g *GroupChat) Requests() int { return g.snapshot().Requests }

package webchat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/llm"
)

// A note is the line under a bot bubble: why a reply was cut short, or the error that left a
// question without one.
type note struct {
	Line  string
	Error bool
}

func (n note) encode() string {
	if n.Error {
		return "e:" + n.Line
	}
	return "i:" + n.Line
}

func decodeNote(s string) note {
	if l, ok := strings.CutPrefix(s, "e:"); ok {
		return note{Line: l, Error: true}
	}
	return note{Line: strings.TrimPrefix(s, "i:")}
}

// Why a reply ended early: causes given to the reply's context.
var (
	errStopped  = errors.New("stopped by the visitor")
	errTooLong  = errors.New("the reply is too long")
	errPanicked = errors.New("the model failed unexpectedly (see the server's log)")
	// errServerStopped ends the replies in progress when the server shuts down.
	errServerStopped = errors.New("the server stopped")
)

func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// postSession checks a POST (JSON, the visitor's session, its CSRF token) and returns the
// session; it writes the refusal and returns nil otherwise.
func (s *Server) postSession(w http.ResponseWriter, r *http.Request) *session {
	if !sameOriginJSON(r) {
		s.fail(w, http.StatusUnsupportedMediaType, s.tx.NotJSON)
		return nil
	}
	ss := s.sessionFor(w, r, false)
	if ss == nil {
		s.fail(w, http.StatusConflict, s.tx.Gone)
		return nil
	}
	if !csrfOK(r, ss.id) {
		s.fail(w, http.StatusForbidden, s.tx.Stale)
		return nil
	}
	return ss
}

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	ss := s.postSession(w, r)
	if ss == nil {
		return
	}
	max := s.cfg.limits.MaxMessageRunes
	r.Body = http.MaxBytesReader(w, r.Body, int64(max)*6+4096) // JSON escapes: up to 6 bytes a character
	var body struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			s.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(s.tx.MessageTooLong, max))
			return
		}
		s.fail(w, http.StatusBadRequest, s.tx.Unreadable)
		return
	}
	text := strings.TrimSpace(body.Text)
	if text == "" {
		s.fail(w, http.StatusBadRequest, s.tx.EmptyMessage)
		return
	}
	if n := utf8.RuneCountInString(text); n > max {
		s.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(s.tx.MessageRunes, n, max))
		return
	}
	s.reply(w, r, ss, llm.UserMsg(text), false)
}

func (s *Server) handleRetry(w http.ResponseWriter, r *http.Request) {
	ss := s.postSession(w, r)
	if ss == nil {
		return
	}
	s.reply(w, r, ss, llm.Message{}, true)
}

// lastQuestion returns the position of the user message that starts the last turn, or -1
// if the conversation has no question (only the greeting).
func lastQuestion(msgs []llm.Message) int {
	for i := len(msgs) - 1; i >= 0; i-- {
		switch msgs[i].Role {
		case llm.User:
			return i
		case llm.Assistant:
			continue
		}
	}
	return -1
}

// reply asks the model (a new question q, or with retry the last question again) and
// streams the answer as JSON lines: progress events {"k", "b", "t"} (committed blocks from
// index k, and the open tail's HTML), then one {"done": true, "html", …} with the final render.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, ss *session, q llm.Message, retry bool) {
	ss.mu.Lock()
	if ss.busy.Load() {
		ss.mu.Unlock()
		s.fail(w, http.StatusConflict, s.tx.Busy)
		return
	}
	msgs := ss.list.Messages()
	if retry {
		i := lastQuestion(msgs)
		if i < 0 {
			ss.mu.Unlock()
			s.fail(w, http.StatusConflict, s.tx.NoQuestion)
			return
		}
		q = llm.Message{Role: llm.User, Content: msgs[i].Content, Name: msgs[i].Name}
	}
	now := s.now()
	if ok, wait := ss.allow(now, s.cfg.limits.RequestsPerMinute); !ok {
		ss.mu.Unlock()
		secs := int(wait.Round(time.Second) / time.Second)
		secs = max(secs, 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.fail(w, http.StatusTooManyRequests, fmt.Sprintf(s.tx.RateLimited, s.cfg.limits.RequestsPerMinute, secs))
		return
	}
	select {
	case s.streams <- struct{}{}:
	default:
		ss.asked = ss.asked[:len(ss.asked)-1] // not asked after all
		ss.mu.Unlock()
		w.Header().Set("Retry-After", "5")
		s.fail(w, http.StatusServiceUnavailable, s.tx.ServerBusy)
		return
	}
	defer func() { <-s.streams }()
	if retry {
		removed, err := ss.list.Rollback(1)
		if err == nil {
			for _, m := range removed {
				delete(ss.notes, m.ID)
			}
		}
		msgs = ss.list.Messages()
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	ss.cancel = cancel
	ss.busy.Store(true)
	ss.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := &lineWriter{w: w, rc: http.NewResponseController(w)}
	out.flush()

	src, end := s.stream(ctx, cancel, out, requestMessages(msgs, q))

	ss.mu.Lock()
	done := s.record(ss, q, src, end)
	ss.cancel = nil
	ss.busy.Store(false)
	s.save(ss)
	ss.mu.Unlock()
	out.send(done)
}

// requestMessages is what the model is sent: the conversation, without the questions that
// got no reply (an error left them unanswered; they stay on the page for Retry), then q.
func requestMessages(hist []llm.Message, q llm.Message) []llm.Message {
	out := make([]llm.Message, 0, len(hist)+1)
	for i, m := range hist {
		if m.Role == llm.User && (i+1 == len(hist) || hist[i+1].Role != llm.Assistant) {
			continue
		}
		out = append(out, m)
	}
	return append(out, q)
}

// ending is how a reply ended.
type ending struct {
	cause   error  // nil: complete; errStopped, errTooLong, context.Canceled (disconnect, shutdown)
	errLine string // a model error, described
}

type piece struct {
	text string
	err  error
}

// stream runs the model and sends progress events; it returns the reply's Markdown source.
func (s *Server) stream(ctx context.Context, cancel context.CancelCauseFunc, out *lineWriter, msgs []llm.Message) (string, ending) {
	pieces := make(chan piece)
	go func() {
		defer close(pieces)
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("webchat: the model panicked", "panic", secret.Redact(fmt.Sprint(v)))
				select {
				case pieces <- piece{err: errPanicked}:
				case <-ctx.Done():
				}
			}
		}()
		for d, err := range s.model.Stream(ctx, msgs) {
			select {
			case pieces <- piece{d, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	inc := s.md.NewIncremental()
	var src strings.Builder
	runes, sentBlocks, lastTail := 0, 0, ""
	dirty, started := false, false
	flush := func() {
		committed, tail := inc.Blocks()
		ev := progressEvent{K: sentBlocks, B: committed[sentBlocks:]}
		if tail != lastTail || !started {
			ev.T = &tail
		}
		if len(ev.B) > 0 || ev.T != nil {
			out.send(ev)
		}
		sentBlocks, lastTail, dirty, started = len(committed), tail, false, true
	}
	tick := time.NewTicker(s.flushInterval)
	defer tick.Stop()
	var end ending
loop:
	for {
		select {
		case p, ok := <-pieces:
			if !ok {
				break loop
			}
			if p.err != nil {
				if ctx.Err() != nil {
					end.cause = context.Cause(ctx)
				} else {
					end.errLine = s.describe(p.err)
					s.log.Warn("webchat: the model failed", "err", secret.Redact(p.err.Error()))
				}
				break loop
			}
			if p.text == "" {
				continue
			}
			if n := utf8.RuneCountInString(p.text); runes+n > s.cfg.limits.MaxReplyRunes {
				cut := string([]rune(p.text)[:s.cfg.limits.MaxReplyRunes-runes])
				src.WriteString(cut)
				inc.Append(cut)
				cancel(errTooLong)
				end.cause = errTooLong
				break loop
			} else {
				runes += n
			}
			src.WriteString(p.text)
			inc.Append(p.text)
			if !started {
				flush()
			} else {
				dirty = true
			}
		case <-tick.C:
			if dirty {
				flush()
			}
		case <-ctx.Done():
			end.cause = context.Cause(ctx)
			break loop
		}
	}
	if end.cause == nil && end.errLine == "" && ctx.Err() != nil {
		end.cause = context.Cause(ctx)
	}
	return src.String(), end
}

func (s *Server) describe(err error) string {
	line := ""
	func() {
		defer func() {
			if recover() != nil {
				line = DescribeError(err)
			}
		}()
		line = s.cfg.describe(err)
	}()
	return oneLine(line)
}

// record adds the turn to the conversation and returns the final event. ss.mu is held.
func (s *Server) record(ss *session, q llm.Message, src string, end ending) doneEvent {
	var n *note
	switch {
	case end.errLine != "":
		n = &note{Line: end.errLine, Error: true}
	case end.cause == errStopped:
		if src == "" {
			n = &note{Line: s.tx.StoppedBefore}
		} else {
			n = &note{Line: s.tx.Stopped}
		}
	case end.cause == errServerStopped:
		n = &note{Line: s.tx.ServerStopped}
	case end.cause == errTooLong:
		n = &note{Line: fmt.Sprintf(s.tx.TooLong, s.cfg.limits.MaxReplyRunes)}
	case end.cause != nil:
		n = &note{Line: s.tx.ConnEnded}
	case strings.TrimSpace(src) == "":
		n = &note{Line: s.tx.EmptyReply, Error: true}
	}
	done := doneEvent{Done: true}
	var err error
	if strings.TrimSpace(src) != "" {
		reply := llm.AssistantMsg(src)
		reply.Partial = n != nil
		err = ss.list.AppendTurn(q, reply)
		done.HTML = s.md.Render(src)
		done.Partial = reply.Partial
	} else {
		err = ss.list.Append(q) // a question without a reply: Retry can ask it again
	}
	if err != nil {
		s.log.Error("webchat: recording a turn", "err", err)
	}
	if w := ss.list.Warning(); w != nil {
		s.log.Debug("webchat: trimming", "warning", w)
	}
	if n != nil {
		msgs := ss.list.Messages()
		if len(msgs) > 0 {
			ss.notes[msgs[len(msgs)-1].ID] = *n
		}
		if n.Error {
			done.Error = n.Line
		} else {
			done.Note = n.Line
		}
	}
	return done
}

type progressEvent struct {
	K int      `json:"k"`
	B []string `json:"b,omitempty"`
	T *string  `json:"t,omitempty"`
}

type doneEvent struct {
	Done    bool   `json:"done"`
	HTML    string `json:"html"`
	Partial bool   `json:"partial,omitempty"`
	Note    string `json:"note,omitempty"`
	Error   string `json:"error,omitempty"`
}

// lineWriter writes JSON lines and flushes each; after a write error (the visitor left) it
// writes nothing more.
type lineWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	err   error
	bytes int
}

func (l *lineWriter) send(v any) {
	if l.err != nil {
		return
	}
	b, err := marshalJSON(v)
	if err != nil {
		l.err = err
		return
	}
	b = append(b, '\n')
	n, err := l.w.Write(b)
	l.bytes += n
	if err != nil {
		l.err = err
		return
	}
	l.flush()
}

func (l *lineWriter) flush() {
	if l.err == nil {
		if err := l.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			l.err = err
		}
	}
}

func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) {
	ss := s.postSession(w, r)
	if ss == nil {
		return
	}
	ss.mu.Lock()
	stopped := ss.cancel != nil
	if stopped {
		ss.cancel(errStopped)
	}
	ss.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"stopped": stopped})
}

func (s *Server) handleUndo(w http.ResponseWriter, r *http.Request) {
	ss := s.postSession(w, r)
	if ss == nil {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.busy.Load() {
		s.fail(w, http.StatusConflict, s.tx.Busy)
		return
	}
	if lastQuestion(ss.list.Messages()) < 0 {
		s.fail(w, http.StatusConflict, s.tx.NothingToUndo)
		return
	}
	removed, err := ss.list.Rollback(1)
	if err != nil {
		s.fail(w, http.StatusConflict, s.tx.NothingToUndo)
		return
	}
	for _, m := range removed {
		delete(ss.notes, m.ID)
	}
	s.save(ss)
	s.writeLog(w, ss)
}

func (s *Server) handleClear(w http.ResponseWriter, r *http.Request) {
	ss := s.postSession(w, r)
	if ss == nil {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.busy.Load() {
		s.fail(w, http.StatusConflict, s.tx.Busy)
		return
	}
	ss.list.Reset() // keeps the system message, removes the turns and the greeting
	for _, m := range s.start {
		if m.Role == llm.Assistant {
			ss.list.Append(m)
		}
	}
	clear(ss.notes)
	s.save(ss)
	s.writeLog(w, ss)
}

func (s *Server) handleLog(w http.ResponseWriter, r *http.Request) {
	ss := s.sessionFor(w, r, false)
	if ss == nil {
		s.fail(w, http.StatusConflict, s.tx.Gone)
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s.writeLog(w, ss)
}

// writeLog answers with the conversation's HTML. ss.mu is held.
func (s *Server) writeLog(w http.ResponseWriter, ss *session) {
	var b bytes.Buffer
	if err := s.page.ExecuteTemplate(&b, "log", s.bubbles(ss)); err != nil {
		s.log.Error("webchat: rendering the conversation", "err", err)
		s.fail(w, http.StatusInternalServerError, s.tx.LogFailed)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"log": b.String(), "busy": ss.busy.Load()})
}

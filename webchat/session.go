package webchat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonbchat/gonbchat/history"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/llm"
)

// session is one visitor's conversation.
type session struct {
	id  string // the cookie's value (secret)
	key string // hash of id: the state file's name

	busy     atomic.Bool  // a reply is streaming
	lastUsed atomic.Int64 // unix nanoseconds

	mu     sync.Mutex
	list   *history.List
	notes  map[uint64]note // by message ID: the line under a bot bubble (an error, "cut short")
	cancel context.CancelCauseFunc
	asked  []time.Time // questions of the last minute (rate limit)
}

const (
	sidBytes   = 32
	fileSuffix = ".hist"
	notePrefix = "note:"
)

func newSessionID() string {
	var b [sidBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func validSessionID(id string) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(sidBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte("gonbchat webchat session\x00" + id))
	return hex.EncodeToString(sum[:])
}

// newList returns an empty conversation: the persona's start, configured with the trimming.
func (s *Server) newList(msgs []llm.Message) *history.List {
	f := &history.File{Messages: append(slices.Clone(s.start), msgs...)}
	return f.List(history.WithStrategy(s.strategies()...))
}

func (s *Server) strategies() []history.Strategy {
	if s.cfg.trimming != nil {
		return s.cfg.trimming
	}
	turns := s.cfg.limits.MaxTurns
	if s.hasGreeting() {
		turns++ // the greeting is a turn of its own for package history
	}
	return []history.Strategy{history.SlidingWindow(turns)}
}

func (s *Server) hasGreeting() bool {
	return len(s.start) > 1
}

// sessionFor returns the visitor's session, from memory or the state directory. With create,
// a visitor without one gets a new session and its cookie; else it returns nil.
func (s *Server) sessionFor(w http.ResponseWriter, r *http.Request, create bool) *session {
	name := cookieName("gonbchat_sid", r)
	id := ""
	if c, err := r.Cookie(name); err == nil && validSessionID(c.Value) {
		id = c.Value
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != "" {
		if ss := s.sessions[id]; ss != nil {
			ss.touch(s.now())
			return ss
		}
		if ss := s.loadLocked(id); ss != nil {
			s.addLocked(ss)
			return ss
		}
	}
	if !create {
		return nil
	}
	ss := &session{id: newSessionID(), list: s.newList(nil), notes: map[uint64]note{}}
	ss.key = sessionKey(ss.id)
	ss.touch(s.now())
	s.addLocked(ss)
	setCookie(w, r, name, ss.id, 180*24*3600)
	return ss
}

func (ss *session) touch(t time.Time) { ss.lastUsed.Store(t.UnixNano()) }

// addLocked adds a session, dropping the least recently used idle ones past MaxVisitors
// (their files stay in the state directory).
func (s *Server) addLocked(ss *session) {
	s.sessions[ss.id] = ss
	for len(s.sessions) > s.cfg.limits.MaxVisitors {
		var old *session
		for _, c := range s.sessions {
			if c != ss && !c.busy.Load() && (old == nil || c.lastUsed.Load() < old.lastUsed.Load()) {
				old = c
			}
		}
		if old == nil {
			return
		}
		delete(s.sessions, old.id)
	}
}

func (s *Server) statePath(key string) string {
	return filepath.Join(s.cfg.stateDir, key+fileSuffix)
}

// scanStateDir indexes the conversations saved in the state directory.
func (s *Server) scanStateDir() error {
	if err := os.MkdirAll(s.cfg.stateDir, 0o700); err != nil {
		return fmt.Errorf("webchat: state directory: %w", err)
	}
	entries, err := os.ReadDir(s.cfg.stateDir)
	if err != nil {
		return fmt.Errorf("webchat: state directory: %w", err)
	}
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), fileSuffix)
		if !ok || len(key) != 64 || !e.Type().IsRegular() {
			continue
		}
		if _, err := hex.DecodeString(key); err != nil {
			continue
		}
		if info, err := e.Info(); err == nil {
			s.files[key] = info.ModTime()
		}
	}
	s.mu.Lock()
	s.boundFilesLocked("")
	s.mu.Unlock()
	return nil
}

// boundFilesLocked removes the oldest state files past MaxVisitors, except keep's.
func (s *Server) boundFilesLocked(keep string) {
	for len(s.files) > s.cfg.limits.MaxVisitors {
		old, oldT := "", time.Time{}
		for k, t := range s.files {
			if k != keep && (old == "" || t.Before(oldT)) {
				old, oldT = k, t
			}
		}
		if old == "" {
			return
		}
		s.removeFileLocked(old)
	}
}

func (s *Server) removeFileLocked(key string) {
	delete(s.files, key)
	p := s.statePath(key)
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		s.log.Warn("webchat: removing an old conversation", "err", err)
	}
	os.Remove(p + ".lock")
}

// loadLocked reads a saved conversation; nil if there is none or it cannot be read.
func (s *Server) loadLocked(id string) *session {
	if s.cfg.stateDir == "" {
		return nil
	}
	key := sessionKey(id)
	if _, ok := s.files[key]; !ok {
		return nil
	}
	f, err := history.Load(s.statePath(key))
	if err != nil {
		s.log.Warn("webchat: a saved conversation cannot be read; the visitor starts again", "err", err)
		s.removeFileLocked(key)
		return nil
	}
	ss := &session{id: id, key: key, notes: map[uint64]note{}}
	for k, v := range f.Meta {
		if n, ok := strings.CutPrefix(k, notePrefix); ok {
			if id, err := strconv.ParseUint(n, 10, 64); err == nil {
				ss.notes[id] = decodeNote(v)
			}
		}
	}
	ss.list = s.restore(f)
	ss.touch(s.now())
	return ss
}

// restore rebuilds a saved conversation with the persona's current start as its head, so
// that the greeting appears once even if the persona changed between runs.
func (s *Server) restore(f *history.File) *history.List {
	msgs := f.Messages
	i := 0
	for i < len(msgs) && msgs[i].Role.Instruction() && !msgs[i].Summary {
		i++
	}
	if i < len(msgs) && msgs[i].Role == llm.Assistant && msgs[i].Pinned {
		i++ // the greeting
	}
	f.Messages = append(slices.Clone(s.start), msgs[i:]...)
	return f.List(history.WithStrategy(s.strategies()...))
}

// save writes the session's conversation to the state directory, if there is one. ss.mu is
// held. A failure is logged: the conversation goes on in memory.
func (s *Server) save(ss *session) {
	if s.cfg.stateDir == "" {
		return
	}
	f := ss.list.Snapshot()
	live := map[uint64]bool{}
	for _, m := range f.Messages {
		live[m.ID] = true
	}
	f.Meta = map[string]string{}
	for id, n := range ss.notes {
		if live[id] {
			n.Line = secret.Redact(n.Line)
			f.Meta[notePrefix+strconv.FormatUint(id, 10)] = n.encode()
		} else {
			delete(ss.notes, id)
		}
	}
	if err := history.Save(s.statePath(ss.key), f); err != nil {
		s.log.Error("webchat: saving a conversation", "err", secret.Redact(err.Error()))
		return
	}
	s.mu.Lock()
	s.files[ss.key] = s.now()
	s.boundFilesLocked(ss.key)
	s.mu.Unlock()
}

// allow applies the rate limit to a new question. ss.mu is held.
func (ss *session) allow(now time.Time, perMinute int) (ok bool, wait time.Duration) {
	cut := now.Add(-time.Minute)
	ss.asked = slices.DeleteFunc(ss.asked, func(t time.Time) bool { return !t.After(cut) })
	if len(ss.asked) >= perMinute {
		return false, ss.asked[0].Add(time.Minute).Sub(now)
	}
	ss.asked = append(ss.asked, now)
	return true, 0
}

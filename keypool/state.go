package keypool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/internal/secret"
)

// stateVersion is the version of the state file's format.
const stateVersion = 1

// maxStateBytes bounds the state file: it holds a few lines per key.
const maxStateBytes = 1 << 20

// state is what a pool remembers between requests and processes. It names keys by fingerprint
// only.
type state struct {
	Version int                  `json:"version"`
	Pool    string               `json:"pool"`
	Last    string               `json:"last,omitempty"` // the key handed out last
	Keys    map[string]*keyState `json:"keys"`
}

type keyState struct {
	Uses         int64     `json:"uses"`
	CoolingUntil time.Time `json:"cooling_until,omitzero"`
	Disabled     bool      `json:"disabled,omitempty"`
	Reason       string    `json:"reason,omitempty"`
}

func newState(name string) *state {
	return &state{Version: stateVersion, Pool: name, Keys: map[string]*keyState{}}
}

func (st *state) clone() *state {
	c := *st
	c.Keys = make(map[string]*keyState, len(st.Keys))
	for fp, ks := range st.Keys {
		k := *ks
		c.Keys[fp] = &k
	}
	return &c
}

// key returns the entry of fp, creating it.
func (st *state) key(fp string) *keyState {
	ks := st.Keys[fp]
	if ks == nil {
		ks = &keyState{}
		st.Keys[fp] = ks
	}
	return ks
}

func (st *state) status(fp string, now time.Time) KeyStatus {
	s := KeyStatus{Fingerprint: fp}
	ks := st.Keys[fp]
	if ks == nil {
		return s
	}
	s.Uses = ks.Uses
	switch {
	case ks.Disabled:
		s.State, s.Reason = Disabled, ks.Reason
	case now.Before(ks.CoolingUntil):
		s.State, s.Until, s.Reason = Cooling, ks.CoolingUntil, ks.Reason
	}
	return s
}

var (
	fingerprintPattern = regexp.MustCompile(`^key#[0-9a-f]{6}$`)
	reasonPattern      = regexp.MustCompile(`^[0-9]{3}( [A-Za-z0-9_.\-]{1,48})?$`)
)

// check reports why st is not a state file of the pool name, or nil.
func (st *state) check(name string) error {
	switch {
	case st.Version != stateVersion:
		return fmt.Errorf("version %d, want %d", st.Version, stateVersion)
	case st.Pool != name:
		return errors.New("it belongs to another pool")
	case st.Keys == nil:
		return errors.New("no keys")
	case st.Last != "" && !fingerprintPattern.MatchString(st.Last):
		return errors.New("a key is not named by a fingerprint")
	}
	for fp, ks := range st.Keys {
		switch {
		case !fingerprintPattern.MatchString(fp):
			return errors.New("a key is not named by a fingerprint")
		case ks == nil || ks.Uses < 0:
			return fmt.Errorf("bad entry for %s", fp)
		case ks.Reason != "" && !reasonPattern.MatchString(ks.Reason):
			return fmt.Errorf("bad reason for %s", fp)
		}
	}
	return nil
}

// store holds a pool's state. update runs fn on the current state, atomically with respect to
// every other update of the same state (in this process and, for files, in others), and saves
// the state if fn reports a change.
type store interface {
	update(fn func(st *state) (changed bool)) error
}

type memStore struct {
	mu sync.Mutex
	st *state
}

func (m *memStore) update(fn func(*state) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(m.st)
	return nil
}

// fileStore keeps the state in a JSON file, locked with fsutil.Lock and replaced atomically.
type fileStore struct {
	name    string
	path    string
	now     func() time.Time
	onReset func(error) // told (after unlocking) when a broken file was moved aside

	mu sync.Mutex // one update at a time in this process (the file lock is per open file)
}

func (f *fileStore) update(fn func(*state) bool) error {
	reset, err := f.locked(fn)
	if reset != nil && f.onReset != nil {
		f.onReset(reset) // after unlocking: the callback may use the pool
	}
	return err
}

// locked runs one update under the locks. A broken file found on the way is reported as reset.
func (f *fileStore) locked(fn func(*state) bool) (reset, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	unlock, err := fsutil.Lock(f.path)
	if err != nil {
		return nil, fmt.Errorf("keypool: %w", err)
	}
	defer unlock()
	st, reset, err := f.read()
	if err != nil || !fn(st) {
		return reset, err
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return reset, fmt.Errorf("keypool: state: %w", err)
	}
	if secret.Contains(string(data)) { // cannot happen: the state holds fingerprints and codes
		return reset, errors.New("keypool: refusing to write a state file that holds a key")
	}
	if err := fsutil.WriteFileAtomic(f.path, append(data, '\n'), 0o600); err != nil {
		return reset, fmt.Errorf("keypool: saving state: %w", err)
	}
	return reset, nil
}

// read loads the state file (the locks are held). A missing file is a fresh state; a broken one
// is moved aside (to path.broken-<time>), returned as reset, and replaced by a fresh state.
func (f *fileStore) read() (st *state, reset, err error) {
	file, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(f.name), nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("keypool: reading state: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(file, maxStateBytes+1))
	file.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("keypool: reading state: %w", err)
	}
	st = newState(f.name)
	var problem error
	if len(data) > maxStateBytes {
		problem = fmt.Errorf("larger than %d bytes", maxStateBytes)
	} else {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		st.Keys = nil
		if err := dec.Decode(st); err != nil {
			problem = errors.New(jsonProblem(err))
		} else if err := st.check(f.name); err != nil {
			problem = err
		}
	}
	if problem == nil {
		return st, nil, nil
	}
	aside := f.path + ".broken-" + strconv.FormatInt(f.now().UnixNano(), 10)
	if err := os.Rename(f.path, aside); err != nil {
		return nil, nil, fmt.Errorf("keypool: state file %s is unreadable (%v) and cannot be moved aside: %w", f.path, problem, err)
	}
	return newState(f.name), &StateError{Path: f.path, MovedTo: aside, Problem: problem.Error()}, nil
}

// jsonProblem describes a decoding error without quoting the file's content.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("not JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or cut short"
	}
	return "not a keypool state file"
}

// StateError reports a state file that could not be read: it was moved aside and the pool
// started afresh (every key ready). It is the Err of a StateReset event.
type StateError struct {
	Path    string
	MovedTo string
	Problem string
}

func (e *StateError) Error() string {
	return secret.Redact(fmt.Sprintf("keypool: the state file %s was unreadable (%s); moved it to %s and started afresh with every key ready",
		e.Path, e.Problem, e.MovedTo))
}

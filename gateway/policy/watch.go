package policy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Watcher holds the current policy of a file and reloads it when the file changes (polled:
// editors that replace the file, network file systems and config maps all work) or when
// Reload is called (on SIGHUP). A file that does not parse leaves the last good policy in
// force; Err says why.
type Watcher struct {
	path     string
	onChange func(p *Policy, err error)

	cur atomic.Pointer[Policy]

	mu      sync.Mutex
	last    []byte // content of the last load attempt
	lastErr error
	loaded  time.Time
}

// NewWatcher loads path (which must parse) and returns a Watcher over it. onChange, if not
// nil, is called after every reload that changed something: with the new policy, or with the
// error that kept the old one.
func NewWatcher(path string, onChange func(p *Policy, err error)) (*Watcher, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.ApplyPrices()
	w := &Watcher{path: path, onChange: onChange, last: b, loaded: time.Now()}
	w.cur.Store(p)
	return w, nil
}

// Static returns a Watcher that always holds p (for tests and a gateway without a file).
func Static(p *Policy) *Watcher {
	w := &Watcher{}
	p.ApplyPrices()
	w.cur.Store(p)
	return w
}

// Current returns the policy in force.
func (w *Watcher) Current() *Policy { return w.cur.Load() }

// Path is the watched file ("" for a static policy).
func (w *Watcher) Path() string { return w.path }

// Err is why the file's current content is not in force (nil when it is).
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// Loaded is when the policy in force was loaded.
func (w *Watcher) Loaded() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loaded
}

// Reload reads the file again. It returns the parse error, if any (the previous policy stays
// in force), and reports whether the policy in force changed.
func (w *Watcher) Reload() (changed bool, err error) {
	if w.path == "" {
		return false, nil
	}
	b, err := os.ReadFile(w.path)
	w.mu.Lock()
	if err != nil {
		changed := w.lastErr == nil || w.lastErr.Error() != err.Error()
		w.lastErr = err
		w.mu.Unlock()
		if changed && w.onChange != nil {
			w.onChange(nil, err)
		}
		return false, err
	}
	if bytes.Equal(b, w.last) {
		err := w.lastErr
		w.mu.Unlock()
		return false, err
	}
	w.last = b
	p, perr := Parse(b)
	if perr != nil {
		w.lastErr = fmt.Errorf("%s: %w (the previous policy stays in force)", w.path, perr)
		err := w.lastErr
		w.mu.Unlock()
		if w.onChange != nil {
			w.onChange(nil, err)
		}
		return false, err
	}
	p.ApplyPrices()
	w.cur.Store(p)
	w.lastErr = nil
	w.loaded = time.Now()
	w.mu.Unlock()
	if w.onChange != nil {
		w.onChange(p, nil)
	}
	return true, nil
}

// Run polls the file every interval until ctx is done.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) {
	if w.path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Reload() //nolint:errcheck // reported through onChange and Err
		}
	}
}

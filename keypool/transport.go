package keypool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/internal/secret"
)

// maxBufferedBody bounds how much of a request body without GetBody is kept to re-send it. A
// longer body is sent once, without failover. (A variable for the tests.)
var maxBufferedBody int64 = 32 << 20

const (
	// maxErrorBody bounds how much of a 429/401/403 answer is read to find its error code.
	maxErrorBody = 64 << 10
)

// Transport returns an http.RoundTripper that sends each request with the pool's next usable
// key (see the package documentation), through base (nil: http.DefaultTransport).
func (p *Pool) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: p.c, base: base}
}

type transport struct {
	c    *core
	base http.RoundTripper
}

// Format keeps every fmt verb on the pool's description.
func (t *transport) Format(f fmt.State, _ rune) {
	fmt.Fprint(f, "keypool.Transport(", t.c.describe(), ")")
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on to the base transport.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// requestBody hands out the body of each attempt of one request.
type requestBody struct {
	orig    io.ReadCloser // the caller's body, until handed to the first attempt or closed
	get     func() (io.ReadCloser, error)
	oneShot bool // the body cannot be re-sent: no failover
	used    bool
}

func newRequestBody(req *http.Request) (*requestBody, error) {
	b := &requestBody{}
	if req.Body == nil || req.Body == http.NoBody {
		return b, nil
	}
	b.orig = req.Body
	if req.GetBody != nil {
		b.get = req.GetBody
		return b, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, maxBufferedBody+1))
	if err != nil {
		req.Body.Close()
		return nil, fmt.Errorf("keypool: reading the request body: %w", err)
	}
	if int64(len(buf)) > maxBufferedBody {
		b.oneShot = true
		b.orig = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return b, nil
	}
	req.Body.Close()
	b.orig = nil
	b.get = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return b, nil
}

// next sets the body of an attempt.
func (b *requestBody) next(r *http.Request) error {
	r.GetBody = b.get
	switch {
	case b.orig != nil && !b.used:
		r.Body = b.orig
	case b.get != nil:
		body, err := b.get()
		if err != nil {
			return fmt.Errorf("keypool: re-reading the request body: %w", err)
		}
		r.Body = body
	}
	b.used = true
	return nil
}

// close closes the caller's body if no attempt took it.
func (b *requestBody) close() {
	if b.orig != nil && !b.used {
		b.orig.Close()
		b.used = true
	}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	if redirectedElsewhere(req) {
		// A redirect to another origin never gets a key of the pool.
		r := req.Clone(req.Context())
		r.Header.Del("Authorization")
		return t.base.RoundTrip(r)
	}
	body, err := newRequestBody(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	budget := c.maxWait
	if n, err := strconv.Atoi(req.Header.Get("X-Stainless-Retry-Count")); err == nil && n > 0 {
		// The SDK retries after an error or a 5xx; this request already had its wait.
		budget = 0
	}
	deadline := c.now().Add(budget)
	sends := make([]int, len(c.keys))
	var pending *Event // a key's fault, told once the request's next step is known
	tell := func(next string, wait time.Duration) {
		if pending != nil {
			pending.Next, pending.Wait = next, wait
			c.emit(*pending)
			pending = nil
		} else if wait > 0 {
			c.emit(Event{Kind: Waiting, At: c.now(), Next: next, Wait: wait})
		}
	}
	for {
		now := c.now()
		k, wait, ex, err := c.acquire(now, sends, deadline)
		if err != nil {
			body.close()
			return nil, err
		}
		if ex != nil {
			tell("", 0)
			c.emit(Event{Kind: Exhausted, At: now, Err: ex})
			body.close()
			return nil, ex
		}
		if wait > 0 {
			tell(c.fingerprint(k), wait)
			if err := c.sleep(ctx, wait); err != nil {
				body.close()
				return nil, err
			}
			continue
		}
		tell(c.fingerprint(k), 0)
		sends[k]++

		r := req.Clone(ctx)
		r.Header.Set("Authorization", "Bearer "+c.keys[k].value)
		if err := body.next(r); err != nil {
			return nil, err
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			return nil, err // the network's fault, not the key's
		}
		resp.Request = req // the caller's request: the response must not carry the pool's key
		f, data := classify(resp, c.now())
		if f == nil {
			return resp, nil
		}
		ev, err := c.record(k, f, c.now())
		if body.oneShot {
			// The body is gone: the caller gets the answer as it is (and the key's state, even if
			// it could not be saved).
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(data), resp.Body), resp.Body}
			ev.noResend = true
			c.emit(ev)
			return resp, nil
		}
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		pending = &ev
	}
}

// acquire picks the next usable key after the last one handed out, and counts its use. If none
// is usable it returns how long to wait for the first cooling key to recover, if that is before
// deadline, or else an ExhaustedError. Keys this request already sent maxSendsPerKey times do
// not count.
func (c *core) acquire(now time.Time, sends []int, deadline time.Time) (k int, wait time.Duration, ex *ExhaustedError, err error) {
	err = c.store.update(func(st *state) bool {
		n := len(c.keys)
		start := 0
		if i, ok := c.index[st.Last]; ok {
			start = i + 1
		}
		soonest := -1
		var soonestAt time.Time
		for j := range n {
			i := (start + j) % n
			if sends[i] >= maxSendsPerKey {
				continue
			}
			ks := st.key(c.keys[i].fp)
			switch {
			case ks.Disabled:
			case now.Before(ks.CoolingUntil):
				if soonest < 0 || ks.CoolingUntil.Before(soonestAt) {
					soonest, soonestAt = i, ks.CoolingUntil
				}
			default:
				ks.Uses++
				ks.CoolingUntil, ks.Reason = time.Time{}, ""
				st.Last = c.keys[i].fp
				k = i
				return true
			}
		}
		if soonest >= 0 && !soonestAt.After(deadline) {
			k, wait = soonest, soonestAt.Sub(now)
			return false
		}
		ex = &ExhaustedError{Pool: c.name, At: now, Keys: c.statuses(st, now)}
		return false
	})
	return k, wait, ex, err
}

// fault is a key's fault: the answer that cools it or takes it out.
type fault struct {
	status     int
	code       string
	disable    bool
	retryAfter time.Duration
	hasRetry   bool
}

func (f *fault) reason() string {
	if f.code == "" {
		return strconv.Itoa(f.status)
	}
	return strconv.Itoa(f.status) + " " + f.code
}

// record cools or disables key k after f, and returns the event telling so.
func (c *core) record(k int, f *fault, now time.Time) (Event, error) {
	ev := Event{At: now, Key: c.fingerprint(k), Status: f.status, Reason: f.reason()}
	if f.disable {
		ev.Kind = Rejected
	} else {
		d := c.cooldown
		if f.hasRetry {
			d = f.retryAfter
		}
		ev.Kind, ev.Until = RateLimited, now.Add(min(max(d, minCooldown), maxCooldown))
	}
	err := c.store.update(func(st *state) bool {
		ks := st.key(ev.Key)
		ks.Reason = ev.Reason
		if f.disable {
			ks.Disabled, ks.CoolingUntil = true, time.Time{}
		} else if ev.Until.After(ks.CoolingUntil) {
			ks.CoolingUntil = ev.Until
		}
		return true
	})
	return ev, err
}

// classify returns the key's fault in resp (nil if the answer is not the key's fault) and the
// part of the body it read.
func classify(resp *http.Response, now time.Time) (*fault, []byte) {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusUnauthorized, http.StatusForbidden:
	default:
		return nil, nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	code := errorCode(data)
	f := &fault{status: resp.StatusCode, code: code}
	if resp.StatusCode != http.StatusTooManyRequests || code == "insufficient_quota" {
		f.disable = true
	} else {
		f.retryAfter, f.hasRetry = retryAfter(resp.Header, now)
	}
	return f, data
}

// errorCode finds the code of an OpenAI error body ({"error":{"code","type"}}): the code, or the
// type when it says insufficient_quota or there is no code. It keeps identifier characters only:
// the code goes into the state file and messages, and a server's words must not.
func errorCode(data []byte) string {
	var body struct {
		Error *struct {
			Code any    `json:"code"`
			Type string `json:"type"`
		} `json:"error"`
		Code any `json:"code"`
	}
	if json.Unmarshal(data, &body) != nil {
		return ""
	}
	var code, typ string
	if body.Error != nil {
		code, typ = asString(body.Error.Code), body.Error.Type
	} else {
		code = asString(body.Code)
	}
	if typ == "insufficient_quota" || code == "" {
		code = typ
	}
	code = strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, code)
	if len(code) > 48 || secret.Contains(code) {
		return "" // not an error code: maybe the key itself, echoed
	}
	return code
}

func asString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// retryAfter reads retry-after-ms, then Retry-After (seconds, or an HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && !math.IsInf(ms, 0) {
			return time.Duration(min(ms, float64(maxCooldown/time.Millisecond)) * float64(time.Millisecond)), true
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && !math.IsInf(s, 0) {
			return time.Duration(min(s, float64(maxCooldown/time.Second)) * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	return 0, false
}

// redirectedElsewhere reports whether req follows a redirect away from the origin of the
// request that started the chain.
func redirectedElsewhere(req *http.Request) bool {
	if req.Response == nil {
		return false
	}
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return !sameOrigin(first.URL, req.URL)
}

func sameOrigin(a, b *url.URL) bool {
	return a != nil && b != nil && strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

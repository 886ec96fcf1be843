package keypool

import (
	"fmt"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/internal/secret"
)

// EventKind says what happened to the pool.
type EventKind int

const (
	// RateLimited: Key answered 429; it cools until Until. Next is the key the request goes on
	// with, or Wait says how long it waits for Next, or neither if it gave up.
	RateLimited EventKind = iota + 1
	// Rejected: Key answered 401 or 403, or ran out of quota; it is taken out until Reset. Next
	// and Wait as for RateLimited.
	Rejected
	// Waiting: every key is cooling; the request waits Wait for Next to recover.
	Waiting
	// Exhausted: the request gave up; Err is the *ExhaustedError it returns.
	Exhausted
	// StateReset: the state file was unreadable; Err (a *StateError) says where it was moved.
	StateReset
)

func (k EventKind) String() string {
	switch k {
	case RateLimited:
		return "rate limited"
	case Rejected:
		return "rejected"
	case Waiting:
		return "waiting"
	case Exhausted:
		return "exhausted"
	case StateReset:
		return "state reset"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what a pool tells WithNotify's function. Keys are named by fingerprint only.
type Event struct {
	Kind   EventKind
	At     time.Time
	Key    string // the key the event is about
	Status int    // the HTTP status it answered (RateLimited, Rejected)
	Reason string // "429 rate_limit_exceeded", "401 invalid_api_key"…
	Until  time.Time
	Next   string        // the key the request goes on with or waits for ("" if none)
	Wait   time.Duration // how long the request waits for Next (0 if it goes on at once)
	Err    error

	noResend bool // the request body could not be kept to re-send it
}

// String is one line for a notebook: "key#a1b2c3 rate limited (retry in 20 s); trying key#d4e5f6".
func (e Event) String() string {
	var b strings.Builder
	switch e.Kind {
	case RateLimited:
		fmt.Fprintf(&b, "%s rate limited (retry in %s)", e.Key, humanDuration(e.Until.Sub(e.At)))
	case Rejected:
		fmt.Fprintf(&b, "%s rejected%s: taken out of the pool until Reset", e.Key, paren(e.Reason))
	case Waiting:
		b.WriteString("every key of the pool is cooling")
	case Exhausted, StateReset:
		if e.Err != nil {
			return secret.Redact(e.Err.Error())
		}
		return e.Kind.String()
	default:
		return e.Kind.String()
	}
	switch {
	case e.noResend:
		b.WriteString("; the request body was too large to re-send")
	case e.Next != "" && e.Wait > 0:
		fmt.Fprintf(&b, "; waiting %s for %s", humanDuration(e.Wait), e.Next)
	case e.Next != "":
		fmt.Fprintf(&b, "; trying %s", e.Next)
	default:
		b.WriteString("; no usable key left")
	}
	return secret.Redact(b.String())
}

// GoString and Format keep %#v and %+v of an Event on String.
func (e Event) GoString() string { return e.String() }

// Format prints String for every verb.
func (e Event) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", e.String())
		return
	}
	fmt.Fprint(f, e.String())
}

// ExhaustedError is returned (through the SDK's and net/http's wrappers, so errors.As finds it)
// when no key of the pool could take a request: every key is disabled, or cooling longer than
// the request may wait.
type ExhaustedError struct {
	Pool string
	At   time.Time
	Keys []KeyStatus
}

// Error is "every key of the pool is unusable: key#… cooling for 12 s, key#… rejected (401
// invalid_api_key)".
func (e *ExhaustedError) Error() string {
	var b strings.Builder
	b.WriteString("every key of the pool is unusable: ")
	for i, k := range e.Keys {
		if i > 0 {
			b.WriteString(", ")
		}
		switch k.State {
		case Cooling:
			fmt.Fprintf(&b, "%s cooling for %s", k.Fingerprint, humanDuration(k.Until.Sub(e.At)))
		case Disabled:
			fmt.Fprintf(&b, "%s rejected%s", k.Fingerprint, paren(k.Reason))
		default:
			// Ready again, but this request already used it the most it may.
			fmt.Fprintf(&b, "%s rate limited again%s", k.Fingerprint, paren(k.Reason))
		}
	}
	return secret.Redact(b.String())
}

// RetryAfter is how long until the first cooling key recovers (0 if none is cooling: every key
// is disabled, and only Reset helps). A gateway can send it as Retry-After.
func (e *ExhaustedError) RetryAfter() time.Duration {
	var d time.Duration
	for _, k := range e.Keys {
		if k.State == Cooling {
			if w := k.Until.Sub(e.At); d == 0 || w < d {
				d = w
			}
		}
	}
	return d
}

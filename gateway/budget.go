package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/gateway/ledger"
	"github.com/gonbchat/gonbchat/gateway/policy"
)

// budgets admits requests against the policy's limits. Admission is one critical section:
// what was spent in the period, plus what the requests in flight have reserved, must leave
// room for the new request's estimate (its input, the chain it continues, its clamped
// output), which it then reserves. When less room is left than the estimate, the request is
// admitted only if nothing else is in flight against that limit, and reserves all the room.
// So thirty students asking at once cannot together overrun a limit: it is exceeded at most
// by one request's use beyond the room that was left (or beyond its estimate). A
// reservation is released after the request's row is in the ledger.
//
// What was spent in a period is read from the ledger once, then kept up to date in memory as
// rows are recorded (recorded): a gateway owns its database (SQLite has one writer).
type budgets struct {
	mu       sync.Mutex
	reserved map[string]float64
	spent    map[spentKey]*ledger.Spent
}

type spentKey struct {
	who   string // "" for the class
	start int64  // Unix ms of the period's start
}

// maxSpentCache bounds the spent cache; past it, it is dropped and read again.
const maxSpentCache = 4096

// recorded adds a recorded row's usage to the cached periods it falls in.
func (b *budgets) recorded(student string, at time.Time, tokens int64, usd float64) {
	if tokens == 0 && usd == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ms := at.UnixMilli()
	for k, s := range b.spent {
		if (k.who == "" || k.who == student) && ms >= k.start {
			s.Tokens += tokens
			s.USD += usd
		}
	}
}

type estimate struct {
	tokens int64
	usd    float64
}

// admit checks every limit that applies to student and reserves est against each.
func (b *budgets) admit(ctx context.Context, l *ledger.Ledger, p *policy.Policy, student string, now time.Time, est estimate) (release func(), refusal *policy.Refusal, err error) {
	type check struct {
		class bool
		lim   policy.Limit
	}
	var checks []check
	for _, lim := range p.StudentLimits(student) {
		checks = append(checks, check{false, lim})
	}
	for _, lim := range p.Budgets.Class {
		checks = append(checks, check{true, lim})
	}
	if len(checks) == 0 {
		return func() {}, nil, nil
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reserved == nil {
		b.reserved = map[string]float64{}
	}
	if b.spent == nil || len(b.spent) > maxSpentCache {
		b.spent = map[spentKey]*ledger.Spent{}
	}
	taken := map[string]float64{}
	for _, c := range checks {
		start, end := p.Period(c.lim.Per, now)
		who := student
		if c.class {
			who = ""
		}
		sk := spentKey{who, start.UnixMilli()}
		spent, ok := b.spent[sk]
		if !ok {
			s, err := l.SpentSince(ctx, who, start)
			if err != nil {
				return nil, nil, err
			}
			spent = &s
			b.spent[sk] = spent
		}
		unit, used, limit, want := "tokens", float64(spent.Tokens), float64(c.lim.Tokens), float64(est.tokens)
		if c.lim.USD > 0 {
			unit, used, limit, want = "usd", spent.USD, c.lim.USD, est.usd
		}
		key := fmt.Sprintf("%s|%d|%s|%s", who, sk.start, c.lim.Per, unit)
		inFlight := b.reserved[key] + taken[key]
		room := limit - used - inFlight
		want = max(want, 0)
		// Less room than the estimate: the request may still use the rest, but only alone,
		// so that requests that do not fit cannot pile up past the limit together.
		if room <= 0 || (room < want && inFlight > 0) {
			return nil, budgetRefusal(c.class, c.lim, end), nil
		}
		taken[key] += min(want, room)
	}
	for k, v := range taken {
		b.reserved[k] += v
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			for k, v := range taken {
				if b.reserved[k] -= v; b.reserved[k] <= 1e-12 {
					delete(b.reserved, k)
				}
			}
		})
	}, nil, nil
}

func budgetRefusal(class bool, lim policy.Limit, end time.Time) *policy.Refusal {
	period := "today"
	if lim.Per == "week" {
		period = "this week"
	}
	var msg string
	if class {
		msg = fmt.Sprintf("The class budget for %s is used up; %s.", period, policy.ResetPhrase(lim.Per, end))
	} else {
		msg = fmt.Sprintf("Your budget for %s is used up (%s); %s.", period, lim.String(), policy.ResetPhrase(lim.Per, end))
	}
	return &policy.Refusal{Status: 429, Type: "insufficient_quota", Code: "budget_exceeded", Message: msg}
}

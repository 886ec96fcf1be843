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
// what the ledger says was spent in the period, plus what the requests in flight have
// reserved, must leave room; the new request then reserves its estimate (at most the room
// left). So thirty students asking at once cannot together spend more than the room left:
// at most the last one admitted can exceed it, by what it uses beyond its estimate.
// A reservation is released after the request's row is in the ledger.
type budgets struct {
	mu       sync.Mutex
	reserved map[string]float64
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
	spentCache := map[string]ledger.Spent{}
	taken := map[string]float64{}
	for _, c := range checks {
		start, end := p.Period(c.lim.Per, now)
		who := student
		if c.class {
			who = ""
		}
		sk := fmt.Sprintf("%s|%d", who, start.UnixMilli())
		spent, ok := spentCache[sk]
		if !ok {
			spent, err = l.SpentSince(ctx, who, start)
			if err != nil {
				return nil, nil, err
			}
			spentCache[sk] = spent
		}
		unit, used, limit, want := "tokens", float64(spent.Tokens), float64(c.lim.Tokens), float64(est.tokens)
		if c.lim.USD > 0 {
			unit, used, limit, want = "usd", spent.USD, c.lim.USD, est.usd
		}
		key := sk + "|" + c.lim.Per + "|" + unit
		room := limit - used - b.reserved[key] - taken[key]
		if room <= 0 {
			return nil, budgetRefusal(c.class, c.lim, end), nil
		}
		taken[key] += min(max(want, 0), room)
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

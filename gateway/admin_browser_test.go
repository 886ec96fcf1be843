package gateway_test

// The teacher's page in a real browser: headless Chromium (Debian's package "chromium", which
// `install.sh --dev` installs, or $GONBCHAT_CHROMIUM) driven by chromedp. Skipped with -short
// and when no Chromium is found. Screenshots go to $GONBCHAT_SCREENSHOT_DIR if set, else to
// the test's temporary directory; the test logs their paths.

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gonbchat/gonbchat/gateway/ledger"
	"github.com/gonbchat/gonbchat/internal/browsertest"
)

const adminBrowserPolicy = `models:
  allowed: [gpt-4.1-mini]
budgets:
  timezone: Asia/Shanghai
  reset: "00:00"
  student: {tokens: 1000000, per: day}
`

// adminTab is a tab of its own browser context (no shared credentials) that answers the
// gateway's password prompt as a teacher would, and records every request the page makes and
// every console message.
type adminTab struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu         sync.Mutex
	requests   []string // URLs, in the order they were sent
	console    []chromedp.ConsoleMessage
	challenges []string // "scheme realm" of each password prompt
}

// openAdminTab opens a tab that answers each password prompt with user and password, or
// cancels it when password is "" or when the same request is challenged again (a wrong
// password), as a teacher who gives up does.
func openAdminTab(t *testing.T, browser context.Context, name, user, password string) *adminTab {
	t.Helper()
	c, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Do opens the tab and binds it to this context, without a timeout.
	if err := chromedp.Do(c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	a := &adminTab{t: t, name: name, ctx: c}
	if err := chromedp.Listen(c, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			a.mu.Lock()
			a.requests = append(a.requests, e.Request.URL)
			a.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(c)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			a.mu.Lock()
			a.console = append(a.console, m)
			a.mu.Unlock()
		}
	}()
	paused := chromedp.Events(c, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			chromedp.Call(c, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	auth := chromedp.Events(c, fetch.AuthRequired)
	go func() {
		var last fetch.RequestID
		for ev, err := range auth {
			if err != nil {
				return
			}
			a.mu.Lock()
			a.challenges = append(a.challenges, ev.AuthChallenge.Scheme+" "+ev.AuthChallenge.Realm)
			a.mu.Unlock()
			resp := &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}
			if password != "" && ev.RequestID != last {
				resp = &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: user, Password: password}
			}
			last = ev.RequestID
			chromedp.Call(c, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID, AuthChallengeResponse: resp})
		}
	}()
	handle := true
	if _, err := chromedp.Call(c, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &handle}); err != nil {
		t.Fatalf("%s: Fetch.enable: %v", name, err)
	}
	return a
}

// open navigates to u and returns the HTTP status of the page.
func (a *adminTab) open(u string) int64 {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(u))
	if err != nil {
		a.t.Fatalf("%s: opening %s: %v", a.name, u, err)
	}
	return resp.Status
}

func (a *adminTab) do(actions ...chromedp.Action[chromedp.Void]) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		a.t.Fatalf("%s: %v", a.name, err)
	}
}

func evalIn[T any](a *adminTab, js string) T {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		a.t.Fatalf("%s: evaluating %s: %v", a.name, js, err)
	}
	return v
}

// checkClean fails on a request to anything but the gateway, and on a console error, since
// the last check.
func (a *adminTab) checkClean(gateway string) {
	a.t.Helper()
	time.Sleep(300 * time.Millisecond) // let the last events arrive
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.requests) == 0 {
		a.t.Errorf("%s: no request seen (is the network listener working?)", a.name)
	}
	for _, r := range a.requests {
		u, err := url.Parse(r)
		if err != nil || u.Scheme+"://"+u.Host != gateway {
			a.t.Errorf("%s: the page requested %s, which is not the gateway (%s)", a.name, r, gateway)
		}
	}
	for _, m := range a.console {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			a.t.Errorf("%s: console %s (%s:%d)", a.name, m, m.URL, m.Line)
		}
	}
	a.requests, a.console = nil, nil
}

// adminView is what the page shows, read in the browser.
type adminView struct {
	Students [][]string `json:"students"` // the rows of the per-student table, header first
	Days     [][]string `json:"days"`     // the rows of the per-day table, header first
	Bars     []struct {
		Title      string  `json:"title"`
		Fill       string  `json:"fill"`
		X, Y, W, H float64 // as laid out, in CSS pixels
	} `json:"bars"`
	Labels []struct {
		Text string  `json:"text"`
		X    float64 `json:"x"` // centre
	} `json:"labels"`
	Legend []struct {
		Name string `json:"name"`
		Fill string `json:"fill"`
	} `json:"legend"`
	ChartWidth float64 `json:"chartWidth"`
}

const jsAdminView = `(function () {
	function rows(sel) {
		return Array.from(document.querySelectorAll(sel + ' tr')).map(function (tr) {
			return Array.from(tr.cells).map(function (c) { return c.textContent.trim(); });
		});
	}
	var svg = document.getElementById('chart');
	return {
		students: rows('#students'),
		days: rows('#days'),
		bars: Array.from(svg.querySelectorAll('rect')).map(function (r) {
			var b = r.getBoundingClientRect(), t = r.querySelector('title');
			return {title: t ? t.textContent : '', fill: r.getAttribute('fill'), X: b.left, Y: b.top, W: b.width, H: b.height};
		}),
		labels: Array.from(svg.querySelectorAll('text')).map(function (t) {
			var b = t.getBoundingClientRect();
			return {text: t.textContent, x: b.left + b.width / 2};
		}),
		legend: Array.from(document.querySelectorAll('.legend > span')).map(function (s) {
			var r = s.querySelector('rect');
			return {name: s.textContent.trim(), fill: r ? r.getAttribute('fill') : ''};
		}),
		chartWidth: svg.getBoundingClientRect().width
	};
})()`

// TestAdminBrowser opens the teacher's page in headless Chromium after three students (one of
// them 小明) used the gateway on two days, and checks what the teacher sees against the
// ledger that `gonbchat gateway report` prints.
func TestAdminBrowser(t *testing.T) {
	exe := browsertest.Require(t)
	shots := browsertest.ScreenshotDir(t)

	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Pointer[time.Time]
	setClock := func(tm time.Time) { clock.Store(&tm) }
	setClock(time.Date(2026, 3, 9, 10, 0, 0, 0, shanghai))
	const admin = "admin-secret-token"
	e := newEnv(t, envOpt{admin: admin, policy: adminBrowserPolicy, now: func() time.Time { return *clock.Load() }})
	ctx := context.Background()
	xiaoming, err := e.ledger.AddToken(ctx, "小明")
	if err != nil {
		t.Fatal(err)
	}

	ask := func(tok, q string, model string) error {
		_, err := e.client(tok).Responses.New(ctx, responses.ResponseNewParams{Model: model, Input: input(q)})
		return err
	}
	long := strings.Repeat("請解釋 Python 的 for 迴圈和 range 函數怎麼一起用，並舉三個例子。", 8)
	requests := 0
	mustAsk := func(tok, q string) {
		t.Helper()
		if err := ask(tok, q, "gpt-4.1-mini"); err != nil {
			t.Fatal(err)
		}
		requests++
	}
	// Day one: 小明 asks the most, bob a little.
	mustAsk(xiaoming, long)
	mustAsk(xiaoming, long+"再說一次。")
	mustAsk(e.alice, "What does range(3) give?")
	mustAsk(e.bob, "hi")
	// Day two: 小明 again, alice twice, and bob only asks for a model the class does not have.
	setClock(time.Date(2026, 3, 10, 14, 30, 0, 0, shanghai))
	mustAsk(xiaoming, long)
	mustAsk(e.alice, "Explain list comprehensions with an example.")
	mustAsk(e.alice, "And dictionary comprehensions?")
	if err := ask(e.bob, "hello", "gpt-5"); err == nil {
		t.Fatal("a model outside the policy was allowed")
	}
	requests++
	e.waitRows(t, requests)

	// What `gonbchat gateway report` prints comes from these.
	perStudent, err := e.ledger.PerStudent(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	perDay, err := e.ledger.PerDay(ctx, time.Time{}, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	if len(perStudent) != 3 || len(perDay) != 6 {
		t.Fatalf("ledger: %d students, %d student-days: %+v %+v", len(perStudent), len(perDay), perStudent, perDay)
	}

	bctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	browser := browsertest.Start(t, bctx, exe, chromedp.Flag("lang", "zh-CN"))
	gw := e.srv.URL
	page := gw + "/admin/"

	t.Run("refused without the admin token", func(t *testing.T) {
		for _, c := range []struct{ name, user, pw string }{
			{"no password", "", ""},
			{"a student's token", "teacher", e.alice},
		} {
			a := openAdminTab(t, browser, c.name, c.user, c.pw)
			if st := a.open(page); st != 401 {
				t.Errorf("%s: status %d", c.name, st)
			}
			body := evalIn[string](a, `document.body.innerText`)
			if !strings.Contains(body, "the admin token is needed") || strings.Contains(body, "小明") {
				t.Errorf("%s: the page shows %q", c.name, body)
			}
			if n := evalIn[int](a, `document.querySelectorAll('svg, table').length`); n != 0 {
				t.Errorf("%s: %d charts or tables", c.name, n)
			}
			a.mu.Lock()
			ch := strings.Join(a.challenges, "; ")
			a.mu.Unlock()
			if !strings.HasPrefix(strings.ToLower(ch), "basic ") {
				t.Errorf("%s: the browser was not asked for a password (challenges %q)", c.name, ch)
			}
		}
	})

	a := openAdminTab(t, browser, "teacher", "teacher", admin)
	check := func(t *testing.T, shot string) adminView {
		a.t = t
		browsertest.Screenshot(t, a.ctx, shots, shot)
		defer a.checkClean(gw)
		v := evalIn[adminView](a, jsAdminView)
		checkStudentsTable(t, v, perStudent, perDay, "2026-03-10")
		checkDaysTable(t, v, perDay)
		checkChart(t, v, perDay)
		if !evalIn[bool](a, `document.documentElement.scrollWidth <= document.documentElement.clientWidth`) {
			t.Errorf("the page scrolls sideways: scrollWidth %d > clientWidth %d",
				evalIn[int](a, `document.documentElement.scrollWidth`), evalIn[int](a, `document.documentElement.clientWidth`))
		}
		if !evalIn[bool](a, `document.fonts.check('15px sans-serif', '小明')`) {
			t.Error("no font for 小明")
		}
		return v
	}

	t.Run("wide", func(t *testing.T) {
		a.t = t
		a.do(chromedp.EmulateViewport(1100, 900))
		if st := a.open(page); st != 200 {
			t.Fatalf("status %d", st)
		}
		v := check(t, "gateway-admin-wide.png")
		if v.ChartWidth < 600 {
			t.Errorf("the chart is %.0f px wide in a 1100 px window", v.ChartWidth)
		}
	})

	t.Run("narrow", func(t *testing.T) {
		a.t = t
		a.do(chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
		a.do(chromedp.Reload())
		if w := evalIn[int](a, `window.innerWidth`); w != 375 {
			t.Errorf("at 375 px the page is laid out %d px wide (no viewport meta?)", w)
		}
		v := check(t, "gateway-admin-narrow.png")
		if v.ChartWidth > 375 {
			t.Errorf("the chart is %.0f px wide at 375 px", v.ChartWidth)
		}
		// The tables may scroll, but only inside their own box.
		if !evalIn[bool](a, `Array.from(document.querySelectorAll('table')).every(function (t) { return t.parentElement.getBoundingClientRect().right <= document.documentElement.clientWidth; })`) {
			t.Error("a table's box is wider than the screen")
		}
	})
}

// checkStudentsTable: one row per student, with the ledger's numbers, then the class total.
func checkStudentsTable(t *testing.T, v adminView, per, days []ledger.Usage, today string) {
	t.Helper()
	if len(v.Students) != len(per)+2 {
		t.Fatalf("per-student table: %d rows for %d students: %q", len(v.Students), len(per), v.Students)
	}
	var total ledger.Usage
	var todayTotal int64
	for i, u := range per {
		var todays int64
		for _, d := range days {
			if d.Student == u.Student && d.Day == today {
				todays += d.Tokens()
			}
		}
		todayTotal += todays
		total.Requests += u.Requests
		total.Refused += u.Refused
		total.InputTokens += u.InputTokens
		total.OutputTokens += u.OutputTokens
		total.CostUSD += u.CostUSD
		want := []string{u.Student, fmt.Sprint(todays), fmt.Sprint(u.Requests), fmt.Sprint(u.Refused),
			fmt.Sprint(u.InputTokens), fmt.Sprint(u.OutputTokens), fmt.Sprintf("$%.4f", u.CostUSD)}
		if got := v.Students[i+1]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("row of %s: %q, the ledger says %q", u.Student, got, want)
		}
	}
	want := []string{"all", fmt.Sprint(todayTotal), fmt.Sprint(total.Requests), fmt.Sprint(total.Refused),
		fmt.Sprint(total.InputTokens), fmt.Sprint(total.OutputTokens), fmt.Sprintf("$%.4f", total.CostUSD)}
	if got := v.Students[len(v.Students)-1]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("total row: %q, the ledger says %q", got, want)
	}
}

func checkDaysTable(t *testing.T, v adminView, days []ledger.Usage) {
	t.Helper()
	if len(v.Days) != len(days)+1 {
		t.Fatalf("per-day table: %d rows for %d student-days: %q", len(v.Days), len(days), v.Days)
	}
	for i, u := range days {
		want := []string{u.Day, u.Student, fmt.Sprint(u.Requests), fmt.Sprint(u.Tokens()), fmt.Sprintf("$%.4f", u.CostUSD)}
		if got := v.Days[i+1]; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("per-day row %d: %q, the ledger says %q", i, got, want)
		}
	}
}

// checkChart: a bar per student and day with tokens, in that student's legend colour, as tall
// as its tokens (on one scale), above that day's label.
func checkChart(t *testing.T, v adminView, days []ledger.Usage) {
	t.Helper()
	legend := map[string]string{}
	colours := map[string]bool{}
	for _, l := range v.Legend {
		legend[l.Name] = l.Fill
		colours[l.Fill] = true
	}
	for _, name := range []string{"alice", "bob", "小明"} {
		if legend[name] == "" {
			t.Errorf("the legend has no %s: %+v", name, v.Legend)
		}
	}
	if len(colours) != len(v.Legend) {
		t.Errorf("two students share a colour: %+v", v.Legend)
	}
	type key struct{ day, student string }
	want := map[key]int64{}
	var biggest key
	for _, u := range days {
		if u.Tokens() > 0 {
			k := key{u.Day, u.Student}
			want[k] = u.Tokens()
			if u.Tokens() > want[biggest] {
				biggest = k
			}
		}
	}
	if len(v.Bars) != len(want) {
		t.Fatalf("%d bars for %d student-days with tokens: %+v", len(v.Bars), len(want), v.Bars)
	}
	// pixels per token, from the tallest bar
	var tallest int
	for i, b := range v.Bars {
		if b.H > v.Bars[tallest].H {
			tallest = i
		}
	}
	seen := map[key]bool{}
	var scale float64
	for pass := 0; pass < 2; pass++ {
		for i, b := range v.Bars {
			day, rest, _ := strings.Cut(b.Title, " ")
			student, rest, _ := strings.Cut(rest, ": ")
			var tokens int64
			if _, err := fmt.Sscanf(rest, "%d tokens", &tokens); err != nil {
				t.Fatalf("bar %d: title %q", i, b.Title)
			}
			k := key{day, student}
			if pass == 0 {
				if i == tallest {
					scale = b.H / float64(tokens)
					if k != biggest {
						t.Errorf("the tallest bar is %v; the biggest use is %v", k, biggest)
					}
				}
				continue
			}
			if seen[k] {
				t.Errorf("two bars for %v", k)
			}
			seen[k] = true
			if want[k] != tokens {
				t.Errorf("bar %v says %d tokens; the ledger says %d", k, tokens, want[k])
			}
			if b.Fill != legend[student] {
				t.Errorf("bar %v is %s; %s's legend colour is %s", k, b.Fill, student, legend[student])
			}
			if d := b.H - scale*float64(tokens); d > 0.6 || d < -0.6 {
				t.Errorf("bar %v is %.1f px tall for %d tokens; at the tallest bar's scale it would be %.1f px", k, b.H, tokens, scale*float64(tokens))
			}
			// under the bar, its day of the month ("10"), or with the month ("3/10")
			d, err := time.Parse(time.DateOnly, day)
			if err != nil {
				t.Fatalf("bar %d: title %q", i, b.Title)
			}
			label := d.Format("2")
			under := false
			for _, l := range v.Labels {
				if (l.Text == label || l.Text == d.Format("1/2")) && l.X >= b.X && l.X <= b.X+b.W {
					under = true
				}
			}
			if !under {
				t.Errorf("bar %v (x %.0f–%.0f) is not above the label %s", k, b.X, b.X+b.W, label)
			}
		}
	}
	// A day's bars stand on one another in one column, the lowest on the baseline.
	var base float64
	for _, b := range v.Bars {
		base = max(base, b.Y+b.H)
	}
	byDay := map[string][]int{}
	for i, b := range v.Bars {
		day, _, _ := strings.Cut(b.Title, " ")
		byDay[day] = append(byDay[day], i)
	}
	for day, is := range byDay {
		sort.Slice(is, func(x, y int) bool { return v.Bars[is[x]].Y < v.Bars[is[y]].Y })
		for j, i := range is {
			b := v.Bars[i]
			if b.X != v.Bars[is[0]].X || b.W != v.Bars[is[0]].W {
				t.Errorf("%s: bars in different columns: %+v", day, b)
			}
			bottom := base
			if j+1 < len(is) {
				bottom = v.Bars[is[j+1]].Y
			}
			if d := b.Y + b.H - bottom; d > 0.6 || d < -0.6 {
				t.Errorf("%s: the bar %q ends at %.1f, not on what is below it (%.1f)", day, b.Title, b.Y+b.H, bottom)
			}
		}
	}
}

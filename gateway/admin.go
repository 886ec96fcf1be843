package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/gateway/ledger"
)

// adminDays is how many days the teacher's page shows.
const adminDays = 14

func (s *Server) adminAuthorized(r *http.Request) bool {
	if s.cfg.AdminToken == "" {
		return false
	}
	got := bearer(r)
	if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) == 1
}

// serveAdmin serves the teacher's page (/admin/) and its data (/admin/usage.json).
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if s.cfg.AdminToken == "" {
		http.Error(w, "the teacher's page is off: start the gateway with an admin token", http.StatusNotFound)
		return
	}
	if !s.adminAuthorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="gonbchat gateway (any user name, the admin token as password)"`)
		http.Error(w, "the admin token is needed", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	data, err := s.usageData(r)
	if err != nil {
		s.log.Error("gateway: admin page", "err", err)
		http.Error(w, "the ledger could not be read", http.StatusInternalServerError)
		return
	}
	switch strings.TrimPrefix(r.URL.Path, "/admin/") {
	case "":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		if err := adminPage.Execute(w, data); err != nil {
			s.log.Error("gateway: admin page", "err", err)
		}
	case "usage.json":
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"students": data.Students, "days": data.Days, "policy": data.Policy, "policy_error": data.PolicyError})
	default:
		http.NotFound(w, r)
	}
}

type adminData struct {
	Now         string
	Zone        string
	Policy      []string
	PolicyError string
	Students    []ledger.Usage // per student over the days shown
	Days        []ledger.Usage // per day and student
	Chart       chart
	Total       ledger.Usage
	Today       map[string]int64 // tokens per student since today's reset
	TodayTotal  int64
}

type chart struct {
	Width, Height int
	// the plot's left edge, top and baseline
	Left, Top, Base float64
	Bars            []bar
	Labels          []label
	Ticks           []label
	Legend          []legend
	Empty           bool
}

type bar struct {
	X, Y, W, H float64
	Color      string
	Title      string
}

type label struct {
	X, Y float64
	Text string
}

type legend struct {
	Color, Name string
}

func (s *Server) usageData(r *http.Request) (*adminData, error) {
	p := s.cfg.Policy.Current()
	loc := p.Location()
	now := s.now().In(loc)
	dayStart, _ := p.Period("day", now)
	since := dayStart.AddDate(0, 0, -(adminDays - 1))
	per, err := s.cfg.Ledger.PerStudent(r.Context(), since)
	if err != nil {
		return nil, err
	}
	days, err := s.cfg.Ledger.PerDay(r.Context(), since, loc)
	if err != nil {
		return nil, err
	}
	d := &adminData{Now: now.Format("2006-01-02 15:04"), Zone: loc.String(), Policy: p.Summary(), Students: per, Days: days}
	if err := s.cfg.Policy.Err(); err != nil {
		d.PolicyError = err.Error()
	}
	for _, u := range per {
		d.Total.Requests += u.Requests
		d.Total.Refused += u.Refused
		d.Total.InputTokens += u.InputTokens
		d.Total.OutputTokens += u.OutputTokens
		d.Total.CostUSD += u.CostUSD
	}
	d.Today = map[string]int64{}
	for _, u := range days {
		if u.Day == now.Format(time.DateOnly) {
			d.Today[u.Student] += u.Tokens()
			d.TodayTotal += u.Tokens()
		}
	}
	d.Chart = drawChart(per, days, since, adminDays)
	return d, nil
}

// drawChart lays out a stacked bar chart of tokens per day, one colour per student, with a bar
// for each student's day with tokens. A day's label is its day of the month, with the month
// on the first day and on the 1st, so that labels stay short enough to read when the chart is
// scaled down to a phone's width.
func drawChart(per, days []ledger.Usage, since time.Time, n int) chart {
	const w, h, left, bottom, top = 760, 260, 60, 40, 16
	c := chart{Width: w, Height: h, Left: left, Top: top, Base: h - bottom}
	students := make([]string, 0, len(per))
	for _, u := range per {
		students = append(students, u.Student)
	}
	sort.Strings(students)
	color := map[string]string{}
	for i, st := range students {
		// golden-angle hues: neighbours differ
		color[st] = fmt.Sprintf("hsl(%d,65%%,50%%)", int(math.Mod(float64(i)*137.508, 360)))
		c.Legend = append(c.Legend, legend{Color: color[st], Name: st})
	}
	byDay := map[string][]ledger.Usage{}
	var maxDay int64
	for _, u := range days {
		byDay[u.Day] = append(byDay[u.Day], u)
	}
	for _, us := range byDay {
		var t int64
		for _, u := range us {
			t += u.Tokens()
		}
		maxDay = max(maxDay, t)
	}
	if maxDay == 0 {
		c.Empty = true
		maxDay = 1
	}
	// four equal steps, each a round whole number
	scale := 4 * niceStep((maxDay+3)/4)
	plotH := float64(h - bottom - top)
	slot := float64(w-left) / float64(n)
	for i := 0; i < n; i++ {
		day := since.AddDate(0, 0, i)
		key := day.Format(time.DateOnly)
		x := float64(left) + float64(i)*slot + slot*0.15
		y := float64(h - bottom)
		for _, u := range byDay[key] {
			if u.Tokens() == 0 {
				continue // refused requests only: nothing to draw
			}
			bh := float64(u.Tokens()) / float64(scale) * plotH
			y -= bh
			c.Bars = append(c.Bars, bar{X: x, Y: y, W: slot * 0.7, H: bh, Color: color[u.Student],
				Title: fmt.Sprintf("%s %s: %d tokens, %d requests, $%.4f", key, u.Student, u.Tokens(), u.Requests, u.CostUSD)})
		}
		text := day.Format("2")
		if i == 0 || day.Day() == 1 {
			text = day.Format("1/2")
		}
		c.Labels = append(c.Labels, label{X: x + slot*0.35, Y: float64(h - bottom + 20), Text: text})
	}
	for i := 0; i <= 4; i++ {
		v := scale * int64(i) / 4
		c.Ticks = append(c.Ticks, label{X: float64(left - 6), Y: float64(h-bottom) - plotH*float64(i)/4, Text: humanTokens(v)})
	}
	return c
}

// niceStep rounds up to a whole 1, 2, 2.5 or 5 times a power of ten.
func niceStep(v int64) int64 {
	for p := int64(1); ; p *= 10 {
		for _, tenths := range []int64{10, 20, 25, 50} {
			if s := tenths * p; s%10 == 0 && s/10 >= v {
				return s / 10
			}
		}
	}
}

func humanTokens(v int64) string {
	switch {
	case v >= 1_000_000:
		return fmt.Sprintf("%gM", float64(v)/1e6)
	case v >= 1000:
		return fmt.Sprintf("%gk", float64(v)/1e3)
	}
	return fmt.Sprint(v)
}

var adminPage = template.Must(template.New("admin").Funcs(template.FuncMap{
	"usd": func(v float64) string { return fmt.Sprintf("$%.4f", v) },
	"f":   func(v float64) string { return fmt.Sprintf("%.1f", v) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>gonbchat gateway: class usage</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;padding:0 1em;max-width:820px;color:#222}
h1{font-size:1.4em} h2{font-size:1.2em;margin-top:1.4em}
.scroll{overflow-x:auto} table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
td,th{padding:.25em .6em;text-align:right;border-bottom:1px solid #ddd} td{white-space:nowrap} th{vertical-align:bottom}
td:first-child,th:first-child,#days td:nth-child(2),#days th:nth-child(2){text-align:left}
.err{background:#fee;border:1px solid #c33;padding:.5em}
.legend{display:flex;flex-wrap:wrap;gap:.3em 1.2em;margin:.3em 0 0 60px} .legend span{white-space:nowrap}
.sw{width:.8em;height:.8em;margin-right:.3em;vertical-align:-.05em}
ul.policy{columns:2} #chart{display:block;width:100%;max-width:{{.Chart.Width}}px;height:auto}
#chart text{font:11px system-ui,sans-serif;fill:#555}
@media (max-width:600px){body{margin-top:1em} ul.policy{columns:1} #chart text{font-size:20px} .legend{margin-left:0} table{font-size:13px} td,th{padding:.25em .3em}}
</style></head><body>
<h1>Class usage</h1>
<p>{{.Now}} ({{.Zone}}); the last 14 days (calendar days in this time zone). This page refreshes every minute.</p>
{{if .PolicyError}}<p class="err">The policy file has an error, so the previous policy is still in force: {{.PolicyError}}</p>{{end}}
<h2>Policy in force</h2>
<ul class="policy">{{range .Policy}}<li>{{.}}</li>{{end}}</ul>
<h2>Tokens per day</h2>
<svg id="chart" role="img" aria-label="tokens per day and student" width="{{.Chart.Width}}" height="{{.Chart.Height}}" viewBox="0 0 {{.Chart.Width}} {{.Chart.Height}}">
<line x1="{{f .Chart.Left}}" y1="{{f .Chart.Top}}" x2="{{f .Chart.Left}}" y2="{{f .Chart.Base}}" stroke="#999"/>
<line x1="{{f .Chart.Left}}" y1="{{f .Chart.Base}}" x2="{{.Chart.Width}}" y2="{{f .Chart.Base}}" stroke="#999"/>
{{range .Chart.Ticks}}<text x="{{f .X}}" y="{{f .Y}}" text-anchor="end" dominant-baseline="central">{{.Text}}</text>{{end}}
{{range .Chart.Bars}}<rect x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="{{.Color}}"><title>{{.Title}}</title></rect>{{end}}
{{range .Chart.Labels}}<text x="{{f .X}}" y="{{f .Y}}" text-anchor="middle">{{.Text}}</text>{{end}}
{{if .Chart.Empty}}<text x="{{f .Chart.Left}}" dx="2em" y="{{f .Chart.Top}}" dy="3em">no requests yet</text>{{end}}
</svg>
<p class="legend">{{range .Chart.Legend}}<span><svg class="sw" viewBox="0 0 10 10"><rect width="10" height="10" fill="{{.Color}}"/></svg>{{.Name}}</span>{{end}}</p>
<h2>Per student</h2>
<div class="scroll"><table id="students"><tr><th>student</th><th>tokens today</th><th>requests</th><th>refused</th><th>input tokens</th><th>output tokens</th><th>cost (estimate)</th></tr>
{{$today := .Today}}{{range .Students}}<tr><td>{{.Student}}</td><td>{{index $today .Student}}</td><td>{{.Requests}}</td><td>{{.Refused}}</td><td>{{.InputTokens}}</td><td>{{.OutputTokens}}</td><td>{{usd .CostUSD}}</td></tr>{{end}}
<tr><th>all</th><th>{{.TodayTotal}}</th><th>{{.Total.Requests}}</th><th>{{.Total.Refused}}</th><th>{{.Total.InputTokens}}</th><th>{{.Total.OutputTokens}}</th><th>{{usd .Total.CostUSD}}</th></tr>
</table></div>
<h2>Per day</h2>
<div class="scroll"><table id="days"><tr><th>day</th><th>student</th><th>requests</th><th>tokens</th><th>cost</th></tr>
{{range .Days}}<tr><td>{{.Day}}</td><td>{{.Student}}</td><td>{{.Requests}}</td><td>{{.Tokens}}</td><td>{{usd .CostUSD}}</td></tr>{{end}}
</table></div>
</body></html>
`))

package display

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// Append mode.
//
// The main display holds the container
//
//	<div id="ID" class="gonbchat-reply" data-n="N"><script>DEFINE</script>COMMITTED<div class="gonbchat-tail" data-v="V" style="display:contents">TAIL</div></div>
//
// and each update sends, through a second display (ID-js) whose content is replaced each time,
// a script calling gonbchat_v1(id, k, blocks, v, p, s): it inserts the committed blocks k, k+1, …
// before the tail element (only those the container does not have yet: data-n counts them),
// then, if the container is in step, sets the tail to version v: s itself when p < 0, else the
// first p UTF-16 units of the tail version v-1 followed by s (the tail mostly grows at its end).
// Scripts are idempotent and ordered; one that finds the container out of step does nothing, and
// the next whole-bundle update (the safety net, slow, for frontends that run no JavaScript)
// rebuilds the container. The final update always replaces it with the exact render.
//
// Committed blocks are sent as display/markdown renders them (code highlighted); the container
// of the safety net renders the committed source plain, since it is resent whole.

// applyFunc is the frontend half of append mode. It is defined by the container's script and
// by the first script after each container, so a script never runs before it exists.
//
// Math is left as $…$ by display/markdown for the frontend's MathJax, which typesets what the
// notebook renders but not what a script inserts: the function asks MathJax (2 or 3, when the
// page has it) to typeset the container after inserting blocks that may hold math.
const applyFunc = `window.gonbchat_v1=function(id,k,b,v,p,s){var e=document.getElementById(id);if(!e)return;var t=e.lastElementChild,n=+e.dataset.n,m=0;if(!t)return;for(var i=0;i<b.length;i++)if(k+i==n){t.insertAdjacentHTML("beforebegin",b[i]);n++;m=m||/[$]|\\[([]/.test(b[i])}e.dataset.n=n;var J=window.MathJax;if(m&&J){if(J.Hub)J.Hub.Queue(["Typeset",J.Hub,e]);else if(J.typesetPromise)J.typesetPromise([e])}if(k+b.length!=n)return;if(p>=0&&(t.dataset.v!=v-1||t.gonbchatH===undefined))return;var h=p<0?s:t.gonbchatH.slice(0,p)+s;t.innerHTML=h;t.gonbchatH=h;t.dataset.v=v};`

// appendWriter streams by extending the reply through scripts: the bytes sent are about the
// size of the answer.
type appendWriter struct {
	*notebook
	sentBlocks  int       // committed blocks the frontend has
	lastTail    string    // tail the frontend has
	tailVer     int       // version of lastTail (the tail element's data-v)
	needDef     bool      // the next script defines the apply function (first after a container)
	lastReplace time.Time // last whole update of the container
	lastSize    int       // size of the last container
}

func newAppendWriter(n *notebook) *appendWriter {
	w := &appendWriter{notebook: n}
	n.show = w.show
	return w
}

func (w *appendWriter) show(now time.Time) {
	t0 := cpuNow()
	committed, tail := w.inc.Blocks()
	w.stats.renderTime += cpuNow() - t0
	first := w.lastReplace.IsZero()
	if first || now.Sub(w.lastReplace) >= w.safetyFor(w.lastSize) {
		t0 = cpuNow()
		cut := w.inc.Committed()
		plain := renderer().RenderPlain(w.inc.Source()[:cut])
		w.stats.renderTime += cpuNow() - t0
		w.tailVer++
		h := containerHTML(w.id, len(committed), plain, w.tailVer, tail)
		w.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: h}, nil)
		w.lastReplace, w.lastSize = now, len(h)
		w.needDef = true
		w.sentBlocks, w.lastTail = len(committed), tail
		w.interval = w.appendInterval(len(tail))
		return
	}
	if len(committed) == w.sentBlocks && tail == w.lastTail {
		return
	}
	p, s := tailDiff(w.lastTail, tail, w.needDef)
	w.tailVer++
	js := appendScript(w.id, w.sentBlocks, committed[w.sentBlocks:], w.tailVer, p, s, w.needDef)
	w.sendJS(js)
	w.needDef = false
	w.sentBlocks, w.lastTail = len(committed), tail
	w.interval = w.appendInterval(len(js))
}

// safetyFor is the time between whole updates of the container for n bytes of HTML.
func (w *appendWriter) safetyFor(n int) time.Duration {
	return max(w.safety, time.Duration(n)*safetyPerByte)
}

const safetyPerByte = 500 * time.Microsecond // 2 KB/s of safety net at most, past 4 KB

// appendInterval is the throttle interval of append mode after sending n bytes: updates are
// small, so it starts higher than in replace mode (fewer frontend renders, less overhead).
func (w *appendWriter) appendInterval(n int) time.Duration {
	return min(max(w.intervalFor(n), 2*w.minInterval), w.maxLag)
}

// tailDiff returns how to turn old into new: keep the first p UTF-16 units of old, then s. When
// full is set, or little would be kept, p is -1 and s is new.
func tailDiff(old, new string, full bool) (p int, s string) {
	if full {
		return -1, new
	}
	i := 0
	for i < len(old) && i < len(new) && old[i] == new[i] {
		i++
	}
	for i > 0 && i < len(new) && !utf8.RuneStart(new[i]) {
		i--
	}
	if i < 16 {
		return -1, new
	}
	return utf16Len(old[:i]), new[i:]
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// containerHTML is the whole-bundle form of an append-mode reply.
func containerHTML(id string, n int, committed string, v int, tail string) string {
	var b strings.Builder
	b.WriteString(`<div id="`)
	b.WriteString(id)
	b.WriteString(`" class="gonbchat-reply" data-n="`)
	b.WriteString(strconv.Itoa(n))
	b.WriteString(`"><script>`)
	b.WriteString(applyFunc)
	b.WriteString(`</script>`)
	b.WriteString(committed)
	b.WriteString(`<div class="gonbchat-tail" data-v="`)
	b.WriteString(strconv.Itoa(v))
	b.WriteString(`" style="display:contents">`)
	b.WriteString(tail)
	b.WriteString(`</div></div>`)
	return b.String()
}

// appendScript returns the script giving container id the blocks k, k+1, … and tail version v.
func appendScript(id string, k int, blocks []string, v, p int, s string, define bool) string {
	var b strings.Builder
	b.WriteString(`<script>`)
	if define {
		b.WriteString(applyFunc)
	}
	b.WriteString(`window.gonbchat_v1&&gonbchat_v1(`)
	b.WriteString(jsString(id))
	b.WriteString(`,`)
	b.WriteString(strconv.Itoa(k))
	b.WriteString(`,[`)
	for i, s := range blocks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsString(s))
	}
	b.WriteString(`],`)
	b.WriteString(strconv.Itoa(v))
	b.WriteString(`,`)
	b.WriteString(strconv.Itoa(p))
	b.WriteString(`,`)
	b.WriteString(jsString(s))
	b.WriteString(`)</script>`)
	return b.String()
}

// jsString returns s as a JavaScript string literal that is safe inside an HTML <script>
// element: JSON (which escapes quotes, backslashes, control characters, U+2028 and U+2029),
// with "</" and "<!--" broken up so the HTML parser can neither end the script nor enter its
// escaped states. '<', '>' and '&' are left as they are (the kernel escapes them on the wire).
func jsString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if bytes.Contains(out, []byte("<")) {
		out = bytes.ReplaceAll(out, []byte("</"), []byte(`<\/`))
		out = bytes.ReplaceAll(out, []byte("<!--"), []byte(`<\!--`))
	}
	return string(out)
}

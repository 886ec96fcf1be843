//go:build !gonbchat_kernel

package display

import (
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
//	<div id="gonbchat-K" class="gonbchat-reply"><script>DEFINE</script>COMMITTED<div class="gonbchat-tail" data-v="V" style="display:contents">TAIL</div></div>
//
// where K is the cell's key, COMMITTED the committed part of the source rendered plain (code
// not highlighted) and TAIL the rest. DEFINE defines gonbchat_v2 (applyFunc) and gcK, which
// calls it for this container. Each update sends, through a second display (id gcK) whose
// content is replaced each time, a script calling gcK(v, p, s, q, c). In the page the tail
// element holds the string T it was last given (version v-1); the call makes it
//
//	T' = s when p < 0, else the first p UTF-16 units of T, then s, then the last q units of T
//
// then moves the first c units of T' (whole blocks, committed since) out of the tail, before it,
// and shows the rest as the tail, version v. So each piece of the answer is sent once, as it
// arrives: neither the committed part nor the tail's closing tags are sent again.
//
// Scripts are ordered; one that finds its container out of step (a version is missing) changes
// nothing. A whole update of the container (the safety net, slow, for frontends that run no
// JavaScript) rebuilds it. The final update replaces it with the exact render (code highlighted).
//
// The page tells the cell how it is doing over GoNB's comms (address ackAddress, value
// "K ok" or "K stale"): "ok" once a script of the container has applied, "stale" when one found
// it out of step. After "ok" the cell sends no more safety net (the page shows every script);
// after "stale" it resumes it, which rebuilds the container. Frontends that run no JavaScript,
// or have no comms, never answer: they keep the safety net, and the final update.
//
// What this costs the page: GoNB's comms run on a websocket of their own to the kernel, which
// the Jupyter server sends a copy of every iopub message, for the rest of the kernel's life
// (browsercheck measures it). Once a cell has subscribed, the page receives every output twice.
//
// Every script is a few bytes of call and the new text: at 50 tokens/s a long answer takes
// hundreds of them, each in GoNB's envelope, so the call is kept short.

// ackAddress is where the page tells the cell it applies the scripts (see above).
const ackAddress = "/gonbchat/ack"

// applyFunc is the frontend half of append mode, defined by the container's script.
//
// Math is left as $…$ by display/markdown for the frontend's MathJax, which typesets what the
// notebook renders but not what a script inserts: the function asks MathJax (2 or 3, when the
// page has it) to typeset the container after inserting blocks that may hold math.
//
// gonb_comm is GoNB's comms object in the page (installed by the kernel when the cell
// subscribes to ackAddress); its send queues the message until the connection is up.
const applyFunc = `window.gonbchat_v2=function(k,v,p,s,q,c){var e=document.getElementById("gonbchat-"+k),t=e&&e.lastElementChild;if(!t)return;` +
	`var g=function(a){var w=window.gonb_comm;if(w&&w.send&&e.gcS!=a){e.gcS=a;try{w.send("` + ackAddress + `",k+" "+a)}catch(x){}}};` +
	`if(p>=0&&(t.dataset.v!=v-1||t.gcH===undefined)){g("stale");return}` +
	`var h=p<0?s:t.gcH.slice(0,p)+s+t.gcH.slice(t.gcH.length-(q||0));` +
	`if(c>0){var b=h.slice(0,c),J=window.MathJax;h=h.slice(c);t.insertAdjacentHTML("beforebegin",b);` +
	`if(J&&/[$]|\\[([]/.test(b)){if(J.Hub)J.Hub.Queue(["Typeset",J.Hub,e]);else if(J.typesetPromise)J.typesetPromise([e])}}` +
	`t.innerHTML=h;t.gcH=h;t.dataset.v=v;g("ok")};`

// defineScript is the container's script: applyFunc, and gcK for the container of key K.
func defineScript(key string) string {
	return `<script>` + applyFunc + `self.gc` + key + `=function(v,p,s,q,c){gonbchat_v2("` + key + `",v,p,s,q,c)}</script>`
}

// appendWriter streams by extending the reply through scripts: the bytes sent are about the
// size of the answer.
type appendWriter struct {
	*notebook
	// The committed source rendered plain, and how much of the source that is.
	plain    strings.Builder
	plainCut int

	pageCut     int       // bytes of plain the page has before its tail element
	lastTail    string    // the page's tail
	tailVer     int       // version of lastTail (the tail element's data-v)
	full        bool      // the next script sends the whole tail (first after a container)
	lastReplace time.Time // last whole update of the container
	lastSize    int       // size of the last container
	acked       bool      // the page said it applies the scripts (and has not said otherwise since)
	acks        int       // "ok" and "stale" received (tests)
}

func newAppendWriter(n *notebook) *appendWriter {
	w := &appendWriter{notebook: n}
	n.show = w.show
	n.sink.listen(ackAddress, w.onPage)
	return w
}

// onPage takes a message from the page (see ackAddress). It runs in its own goroutine.
func (w *appendWriter) onPage(msg string) {
	key, state, _ := strings.Cut(msg, " ")
	if key != w.key {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch state {
	case "ok":
		w.acked = true
	case "stale":
		w.acked = false
	default:
		return
	}
	w.acks++
}

func (w *appendWriter) show(now time.Time) {
	committed, tail := w.plainParts()
	w.interval = w.maxLag
	if w.lastReplace.IsZero() || !w.acked && now.Sub(w.lastReplace) >= w.safetyFor(w.lastSize) {
		w.tailVer++
		h := containerHTML(w.id, defineScript(w.key), committed, w.tailVer, tail)
		w.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: h}, nil)
		w.lastReplace, w.lastSize = now, len(h)
		w.full = true
		w.pageCut, w.lastTail = len(committed), tail
		return
	}
	t := committed[w.pageCut:] + tail
	c := len(committed) - w.pageCut
	if c == 0 && t == w.lastTail {
		return
	}
	p, q, s := tailDiff(w.lastTail, t, w.full)
	w.tailVer++
	w.sendJS(appendScript(w.key, w.tailVer, p, q, utf16Len(t[:c]), s))
	w.full = false
	w.pageCut, w.lastTail = len(committed), t[c:]
}

// plainParts returns the committed part of the document and the tail, both rendered plain.
// Each committed part of the source is rendered once.
func (w *appendWriter) plainParts() (committed, tail string) {
	t0 := cpuNow()
	defer func() { w.stats.renderTime += cpuNow() - t0 }()
	_, tail = w.inc.Blocks()
	if cut := w.inc.Committed(); cut > w.plainCut {
		w.plain.WriteString(renderer().RenderPlain(w.inc.Source()[w.plainCut:cut]))
		w.plainCut = cut
	}
	return w.plain.String(), tail
}

// safetyFor is the time between whole updates of the container for n bytes of HTML.
func (w *appendWriter) safetyFor(n int) time.Duration {
	return max(w.safety, time.Duration(n)*safetyPerByte)
}

const safetyPerByte = 500 * time.Microsecond // 2 KB/s of safety net at most, past 4 KB

// tailDiff returns how to turn old into new: keep the first p and the last q UTF-16 units of
// old, with s between them. When full is set, p is -1 and s is new.
func tailDiff(old, new string, full bool) (p, q int, s string) {
	if full {
		return -1, 0, new
	}
	i := 0
	for i < len(old) && i < len(new) && old[i] == new[i] {
		i++
	}
	for i > 0 && i < len(new) && !utf8.RuneStart(new[i]) {
		i--
	}
	j := 0 // common suffix, not overlapping the prefix in either string
	for j < len(old)-i && j < len(new)-i && old[len(old)-1-j] == new[len(new)-1-j] {
		j++
	}
	for j > 0 && !utf8.RuneStart(new[len(new)-j]) {
		j--
	}
	return utf16Len(old[:i]), utf16Len(old[len(old)-j:]), new[i : len(new)-j]
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

// containerHTML is the whole form of an append-mode reply.
func containerHTML(id, script, committed string, v int, tail string) string {
	var b strings.Builder
	b.WriteString(`<div id="`)
	b.WriteString(id)
	b.WriteString(`" class="gonbchat-reply">`)
	b.WriteString(script)
	b.WriteString(committed)
	b.WriteString(`<div class="gonbchat-tail" data-v="`)
	b.WriteString(strconv.Itoa(v))
	b.WriteString(`" style="display:contents">`)
	b.WriteString(tail)
	b.WriteString(`</div></div>`)
	return b.String()
}

// appendScript returns the script that takes container gonbchat-key's tail to version v:
// self.gcK?.(v,p,`s`,q,c), the trailing zeros left out.
func appendScript(key string, v, p, q, c int, s string) string {
	var b strings.Builder
	b.WriteString(`<script>self.gc`)
	b.WriteString(key)
	b.WriteString(`?.(`)
	b.WriteString(strconv.Itoa(v))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(p))
	b.WriteByte(',')
	b.WriteString(jsTemplate(s))
	if q != 0 || c != 0 {
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(q))
	}
	if c != 0 {
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(c))
	}
	b.WriteString(`)</script>`)
	return b.String()
}

// jsTemplate returns s as a JavaScript template literal that is safe inside an HTML <script>
// element and cheap on GoNB's wire (JSON that escapes <, > and & as six bytes each):
//
//   - ` \ and ${ are escaped, as a template literal needs;
//   - < > & are written \x3c \x3e \x26, so the HTML parser never sees a tag (no "</script",
//     no "<!--") and the wire carries five bytes instead of six;
//   - control characters but newline and tab are written \xHH (a template literal would turn CR
//     into LF, the HTML parser NUL into U+FFFD); newlines and tabs stay as they are.
func jsTemplate(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('`')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '`' || ch == '\\':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch == '$' && i+1 < len(s) && s[i+1] == '{':
			b.WriteString(`\$`)
		case ch == '<' || ch == '>' || ch == '&' || ch < 0x20 && ch != '\n' && ch != '\t' || ch == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte(hexDigit[ch>>4])
			b.WriteByte(hexDigit[ch&15])
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('`')
	return b.String()
}

const hexDigit = "0123456789abcdef"

package display

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// Append mode.
//
// The main display holds the container
//
//	<div id="ID" class="gonbchat-reply" data-n="N">BLOCK_0 … BLOCK_N-1<div class="gonbchat-tail" style="display:contents">TAIL</div></div>
//
// and each update sends, through a second display (ID-js) whose content is replaced each time,
// a script that inserts the newly committed blocks k, k+1, … before the tail element (only
// those the element does not have yet: data-n counts them) and then sets the tail. Scripts are
// idempotent and ordered; if one were lost the next whole-bundle update (the safety net)
// rebuilds the container, and the final update always replaces it with the exact render.

func (c *Cell) flushAppendLocked(now time.Time) {
	t0 := time.Now()
	committed, tail := c.inc.Blocks()
	c.stats.RenderTime += time.Since(t0)
	newLen := 0
	for _, b := range committed[c.sentBlocks:] {
		newLen += len(b)
	}
	total := c.committedLen + newLen + len(tail)
	if c.sentBlocks == 0 && c.lastReplace.IsZero() || now.Sub(c.lastReplace) >= c.safetyFor(total) {
		c.sendMain(map[protocol.MIMEType]any{protocol.MIMETextHTML: containerHTML(c.id, committed, tail)}, nil)
		c.lastReplace = now
	} else if len(committed) > c.sentBlocks || tail != c.lastTail {
		c.sendJS(appendScript(c.id, c.sentBlocks, committed[c.sentBlocks:], tail))
	}
	c.sentBlocks = len(committed)
	c.committedLen += newLen
	c.lastTail = tail
	c.interval = c.intervalFor(len(tail))
}

// containerHTML is the whole-bundle form of an append-mode reply.
func containerHTML(id string, committed []string, tail string) string {
	var b strings.Builder
	b.WriteString(`<div id="`)
	b.WriteString(id)
	b.WriteString(`" class="gonbchat-reply" data-n="`)
	b.WriteString(strconv.Itoa(len(committed)))
	b.WriteString(`">`)
	for _, s := range committed {
		b.WriteString(s)
	}
	b.WriteString(`<div class="gonbchat-tail" style="display:contents">`)
	b.WriteString(tail)
	b.WriteString(`</div></div>`)
	return b.String()
}

const scriptHead = `<script>(function(){var e=document.getElementById(`
const scriptBody = `);if(!e)return;var t=e.lastElementChild,n=+e.dataset.n;if(!t)return;for(var i=0;i<b.length;i++)if(k+i==n){t.insertAdjacentHTML("beforebegin",b[i]);n++}e.dataset.n=n;if(k+b.length==n)t.innerHTML=h})()</script>`

// appendScript returns the script that gives the container id the blocks k, k+1, … and the tail.
func appendScript(id string, k int, blocks []string, tail string) string {
	var b strings.Builder
	b.WriteString(scriptHead)
	b.WriteString(jsString(id))
	b.WriteString(`),k=`)
	b.WriteString(strconv.Itoa(k))
	b.WriteString(`,b=[`)
	for i, s := range blocks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsString(s))
	}
	b.WriteString(`],h=`)
	b.WriteString(jsString(tail))
	b.WriteString(scriptBody)
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

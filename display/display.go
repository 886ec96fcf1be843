//go:build !gonbchat_kernel

// Package display shows a chat reply, and short notes, in a GoNB notebook cell; outside a
// notebook it writes them to standard output.
//
// The verbs are Markdown, Info and Error for one-off outputs, and a Cell for a reply that is
// streamed: NewCell, Write each delta of its Markdown, Close with the metadata to record. Like
// gonbui, every verb is safe to call anywhere.
//
// In a notebook a Cell is one display (its display_id is unique across the kernel): a
// "thinking…" indicator first, then throttled updates with what was written so far, and a final
// update with the exact full render (text/html), the Markdown source (text/plain) and the
// caller's metadata in the output metadata. There are two ways to stream:
//
//   - Replace: every update resends the whole rendered reply (code left unhighlighted). It works
//     in every frontend (nbconvert and jupyter_client included). The interval between updates
//     grows with the size of the document, but no delta waits more than the maximum lag
//     (250 ms) to appear, and the first delta is shown at once.
//   - Append: the display holds a container that small scripts (sent through a second display)
//     extend, each piece of the answer sent once, so the bytes sent are about the size of the
//     answer instead of its square. Until the page says, over GoNB's comms, that it runs the
//     scripts, a slow whole-container update is a safety net for frontends that run no
//     JavaScript; once it has, only the final update is sent whole. The cell never waits for the
//     page.
//
// Append is chosen when a live Jupyter server (Notebook, Lab) started the kernel, Replace
// otherwise (nbconvert, papermill, jupyter_client scripts); GONBCHAT_DISPLAY=replace|append
// overrides the choice.
//
// Outside a notebook a reply is written as plain text, or styled when standard output is a
// terminal and a terminal renderer is registered (import display/term).
//
// Both modes are checked in a real browser (Jupyter Notebook and headless Chromium) by
// `go run ./display/testdata/browsercheck` (-mode=replace for replace mode); it is not part of go
// test since it needs Jupyter, the gonb kernel and Chromium.
package display

import (
	"fmt"
	"html"
	"os"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/display/markdown"
	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/janpfeifer/gonb/gonbui/protocol"
)

var renderer = sync.OnceValue(func() *markdown.Renderer { return markdown.New() })

// render renders Markdown to safe HTML, as the final update of a Cell does.
func render(md string) string { return renderer().Render(md) }

// Markdown shows a Markdown block (rendered safely) in the notebook, or prints it outside one.
func Markdown(md string) {
	if gonbio.IsNotebook() {
		send(render(md), md)
		return
	}
	if s := terminalStream(os.Stdout); s != nil {
		s.Write(md)
		s.Close()
		return
	}
	fmt.Fprintln(os.Stdout, md)
}

// MarkdownBlocks shows several Markdown documents in one output, each rendered on its own: an
// open code fence or HTML comment in one cannot swallow the next, and a link reference in one
// cannot link another's text (a conversation, one message a block).
func MarkdownBlocks(blocks ...string) {
	if gonbio.IsNotebook() {
		var h strings.Builder
		for _, b := range blocks {
			h.WriteString(`<div class="gonbchat-block">` + render(b) + `</div>`)
		}
		send(h.String(), strings.Join(blocks, "\n\n"))
		return
	}
	for _, b := range blocks {
		Markdown(b)
	}
}

// Info shows a small grey note line (usage, notices).
func Info(line string) {
	if gonbio.IsNotebook() {
		send(`<div class="gonbchat-info" style="color:#888;font-size:smaller">`+html.EscapeString(line)+`</div>`, line)
		return
	}
	fmt.Fprintln(os.Stdout, line)
}

// Error shows one readable error line. It never panics and never shows a stack trace.
func Error(line string) {
	if gonbio.IsNotebook() {
		send(`<div class="gonbchat-error" style="color:#c00">✖ `+html.EscapeString(line)+`</div>`, "✖ "+line)
		return
	}
	fmt.Fprintln(os.Stderr, "✖ "+line)
}

// HTML shows htm, markup that gonbchat makes itself (a page's link and frame: never a model's
// text, which goes through Markdown), with plain as its text version, and waits until GoNB has
// it. A later HTML with the same id replaces it in place; id "" makes a new output. Packages
// that show their own markup use it rather than gonbui, so that in kernel mode a cell's
// displays all go one way (GoNB reads one display stream per cell). Outside a notebook it
// prints plain.
func HTML(id, htm, plain string) {
	out := gonbio.Current()
	if !out.Notebook() {
		fmt.Fprintln(os.Stdout, plain)
		return
	}
	out.Send(&protocol.DisplayData{DisplayID: id, Data: map[protocol.MIMEType]any{
		protocol.MIMETextHTML: htm, protocol.MIMETextPlain: plain}})
	out.Sync()
}

// send shows a one-off output and waits until GoNB has it: a message still in the pipe when the
// cell program exits is lost, and these lines are often a cell's last words.
func send(htm, plain string) {
	out := gonbio.Current()
	out.Send(&protocol.DisplayData{Data: map[protocol.MIMEType]any{
		protocol.MIMETextHTML: htm, protocol.MIMETextPlain: plain}})
	out.Sync()
}

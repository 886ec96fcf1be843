// Package term renders streamed replies in a terminal with glamour. Importing it registers it
// with package display, which then offers it every reply and Markdown block it writes outside a
// notebook; it renders those written to a terminal, and leaves the others plain:
//
//	import _ "github.com/gonbchat/gonbchat/display/term"
//
// It lives apart from display because glamour (lipgloss, termenv, chroma styles…) adds about a
// quarter of a second to every link, and every notebook cell links display.
//
// glamour cannot render a stream, so a reply is shown in two passes: the raw Markdown is printed
// as it arrives, and each time display/markdown commits a block (it will never change again) the
// raw text of that block is erased and replaced by its glamour rendering. If the raw text is
// taller than the terminal (it scrolled away and cannot be erased) it stays as it is.
package term

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/charmbracelet/glamour"
	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/display/markdown"
	"github.com/mattn/go-runewidth"
	xterm "golang.org/x/term"
)

func init() { display.RegisterTerminal(New()) }

// Terminal is a display.Terminal rendering with glamour.
type Terminal struct {
	opts []glamour.TermRendererOption
}

// New returns a Terminal. Without options the style comes from GLAMOUR_STYLE (default "dark"),
// and the text is wrapped at the terminal's width.
func New(opts ...glamour.TermRendererOption) *Terminal { return &Terminal{opts: opts} }

// NewStream starts rendering one reply to w, or returns nil when w is not a terminal, or is a
// terminal that cannot be drawn on (Dumb): package display then writes the reply as plain text.
func (t *Terminal) NewStream(w io.Writer) display.TermStream {
	f, ok := w.(*os.File)
	if !ok || Dumb() || !xterm.IsTerminal(int(f.Fd())) {
		return nil
	}
	width, height := 80, 0
	if wd, ht, err := xterm.GetSize(int(f.Fd())); err == nil && wd > 0 {
		width, height = wd, ht
	}
	return t.newStream(w, width, height)
}

// Dumb reports whether $TERM names a terminal that takes no cursor movements or colours:
// "dumb" (Emacs' shell, some CI logs), or no TERM at all outside Windows (whose console sets
// none). Replies are then plain text even on a terminal; terminal programs (cmd/gonbchat) apply
// the same rule to their own styling.
func Dumb() bool {
	t := os.Getenv("TERM")
	return t == "dumb" || (t == "" && runtime.GOOS != "windows")
}

// newStream renders to w as to a terminal width columns wide and height rows high (0: unknown).
func (t *Terminal) newStream(w io.Writer, width, height int) *stream {
	return &stream{w: w, width: width, height: height, opts: t.opts, inc: markdown.New().NewIncremental()}
}

// stream shows the raw text as it arrives, and replaces each committed block by its rendering.
type stream struct {
	mu            sync.Mutex
	w             io.Writer
	width, height int
	opts          []glamour.TermRendererOption
	r             *glamour.TermRenderer
	inc           *markdown.Incremental
	done          int    // bytes of the source rendered
	raw           string // raw text on screen after the rendered part
	closed        bool
}

func (s *stream) Write(delta string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || delta == "" {
		return
	}
	s.inc.Append(delta)
	io.WriteString(s.w, delta)
	s.raw += delta
	// Blocks are committed only at line starts.
	if strings.Contains(delta, "\n") {
		if cut := s.inc.Committed(); cut > s.done {
			s.render(cut)
		}
	}
}

func (s *stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if src := s.inc.Source(); len(src) > s.done {
		s.render(len(src))
	}
}

// render replaces the raw text of the source up to cut with its glamour rendering.
func (s *stream) render(cut int) {
	src := s.inc.Source()
	out := s.glamour(src[s.done:cut])
	rest := src[cut:]
	rows := Rows(s.raw, s.width)
	if s.height > 0 && rows >= s.height {
		// Scrolled away: leave the raw text.
		s.done, s.raw = cut, rest
		return
	}
	var b strings.Builder
	b.WriteString("\r")
	if rows > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", rows)
	}
	b.WriteString("\x1b[J")
	b.WriteString(out)
	b.WriteString(rest)
	io.WriteString(s.w, b.String())
	s.done, s.raw = cut, rest
}

func (s *stream) glamour(md string) string {
	if s.r == nil {
		opts := []glamour.TermRendererOption{glamour.WithWordWrap(max(s.width-4, 20))}
		if os.Getenv("GLAMOUR_STYLE") != "" {
			opts = append(opts, glamour.WithEnvironmentConfig())
		} else {
			opts = append(opts, glamour.WithStandardStyle("dark"))
		}
		r, err := glamour.NewTermRenderer(append(opts, s.opts...)...)
		if err != nil {
			return md
		}
		s.r = r
	}
	out, err := s.r.Render(md)
	if err != nil {
		return md
	}
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return out
}

// Rows returns how many lines the cursor moved down while text was printed from the start of a
// line on a terminal width columns wide (wide CJK runes count two columns, tabs go to the next
// multiple of 8).
func Rows(text string, width int) int {
	if width <= 0 {
		width = 80
	}
	rows := 0
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		w := 0
		for _, r := range line {
			if r == '\t' {
				w += 8 - w%8
				continue
			}
			w += runewidth.RuneWidth(r)
		}
		if i < len(lines)-1 {
			rows += max(1, (w+width-1)/width) // the wrapped rows, then the newline
		} else if w > 0 {
			rows += (w - 1) / width // the cursor stays on the last row of a full line
		}
	}
	return rows
}

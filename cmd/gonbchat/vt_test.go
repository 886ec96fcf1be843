package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// vt is a small terminal screen for the tests: it interprets what a program writes to its
// pseudo-terminal (printable runes of width 1 or 2, autowrap as xterm does it, CR, LF, BS, the
// cursor movements and erasures of ECMA-48) and answers the cursor position query (ESC [ 6 n)
// as a real terminal would. An escape sequence it does not know is recorded, so a test can
// tell its screen may be wrong.
type vt struct {
	mu         sync.Mutex
	rows, cols int
	grid       [][]rune
	r, c       int
	pending    bool // the last column was written: the next rune wraps (xterm's autowrap)
	savedR     int
	savedC     int
	scrolled   []string // lines scrolled off the top
	buf        []byte   // an incomplete sequence or rune
	reply      io.Writer
	unknown    []string
	raw        strings.Builder
}

const wideTail = -1 // the right half of a wide rune

func newVT(rows, cols int, reply io.Writer) *vt {
	v := &vt{rows: rows, cols: cols, reply: reply}
	v.grid = make([][]rune, rows)
	for i := range v.grid {
		v.grid[i] = make([]rune, cols)
	}
	return v
}

func (v *vt) Write(p []byte) (int, error) {
	v.mu.Lock()
	v.raw.Write(p)
	v.buf = append(v.buf, p...)
	var replies []string
	for len(v.buf) > 0 {
		n, reply := v.step(v.buf)
		if n == 0 {
			break
		}
		if reply != "" {
			replies = append(replies, reply)
		}
		v.buf = v.buf[n:]
	}
	v.mu.Unlock()
	for _, r := range replies {
		io.WriteString(v.reply, r)
	}
	return len(p), nil
}

// step interprets the sequence at the start of b and returns how many bytes it took (0: b holds
// only the start of one), and what to answer.
func (v *vt) step(b []byte) (int, string) {
	switch c := b[0]; {
	case c == 0x1b:
		if len(b) < 2 {
			return 0, ""
		}
		switch b[1] {
		case '[':
			i := 2
			for i < len(b) && b[i] >= 0x20 && b[i] <= 0x3f {
				i++
			}
			if i >= len(b) {
				return 0, ""
			}
			return i + 1, v.csi(string(b[2:i]), b[i])
		case ']', 'P', '_': // OSC, DCS, APC: up to BEL or ST
			for i := 2; i < len(b); i++ {
				if b[i] == 7 {
					return i + 1, ""
				}
				if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '\\' {
					return i + 2, ""
				}
			}
			return 0, ""
		case '(', ')':
			if len(b) < 3 {
				return 0, ""
			}
			return 3, ""
		case '7':
			v.savedR, v.savedC = v.r, v.c
		case '8':
			v.r, v.c, v.pending = v.savedR, v.savedC, false
		case 'M':
			if v.r > 0 {
				v.r--
			}
		case '=', '>':
		default:
			v.unknown = append(v.unknown, fmt.Sprintf("ESC %q", b[1]))
		}
		return 2, ""
	case c == '\r':
		v.c, v.pending = 0, false
	case c == '\n':
		v.lf()
	case c == '\b':
		if v.c > 0 && !v.pending {
			v.c--
		}
		v.pending = false
	case c == '\t':
		v.c = min(v.cols-1, (v.c/8+1)*8)
	case c < 0x20 || c == 0x7f:
	default:
		if !utf8.FullRune(b) {
			return 0, ""
		}
		r, size := utf8.DecodeRune(b)
		v.put(r)
		return size, ""
	}
	return 1, ""
}

func (v *vt) lf() {
	v.pending = false
	if v.r < v.rows-1 {
		v.r++
		return
	}
	v.scrolled = append(v.scrolled, v.line(0))
	copy(v.grid, v.grid[1:])
	v.grid[v.rows-1] = make([]rune, v.cols)
}

func (v *vt) put(r rune) {
	w := runewidth.RuneWidth(r)
	if w == 0 {
		return
	}
	if v.pending || v.c+w > v.cols {
		if v.c+w > v.cols && !v.pending {
			v.grid[v.r][v.c] = 0 // a wide rune that does not fit leaves the last column empty
		}
		v.c = 0
		v.lf()
	}
	row := v.grid[v.r]
	if row[v.c] == wideTail && v.c > 0 {
		row[v.c-1] = 0
	}
	if v.c+w < v.cols && row[v.c+w] == wideTail {
		row[v.c+w] = 0
	}
	row[v.c] = r
	if w == 2 {
		row[v.c+1] = wideTail
	}
	v.c += w
	if v.c >= v.cols {
		v.c, v.pending = v.cols-1, true
	}
}

func (v *vt) csi(params string, final byte) string {
	private := strings.HasPrefix(params, "?") || strings.HasPrefix(params, ">")
	var n []int
	for _, p := range strings.Split(strings.TrimLeft(params, "?>"), ";") {
		x, _ := strconv.Atoi(p)
		n = append(n, x)
	}
	arg := func(i, def int) int {
		if i < len(n) && n[i] > 0 {
			return n[i]
		}
		return def
	}
	clear := func(row, from, to int) {
		for i := from; i < to; i++ {
			v.grid[row][i] = 0
		}
	}
	if final != 'm' && final != 'h' && final != 'l' {
		v.pending = false
	}
	switch final {
	case 'A':
		v.r = max(0, v.r-arg(0, 1))
	case 'B':
		v.r = min(v.rows-1, v.r+arg(0, 1))
	case 'C':
		v.c = min(v.cols-1, v.c+arg(0, 1))
	case 'D':
		v.c = max(0, v.c-arg(0, 1))
	case 'G':
		v.c = min(v.cols-1, arg(0, 1)-1)
	case 'd':
		v.r = min(v.rows-1, arg(0, 1)-1)
	case 'H', 'f':
		v.r, v.c = min(v.rows-1, arg(0, 1)-1), min(v.cols-1, arg(1, 1)-1)
	case 'J':
		switch arg(0, 0) {
		case 0:
			clear(v.r, v.c, v.cols)
			for i := v.r + 1; i < v.rows; i++ {
				clear(i, 0, v.cols)
			}
		case 1:
			for i := 0; i < v.r; i++ {
				clear(i, 0, v.cols)
			}
			clear(v.r, 0, v.c+1)
		default:
			for i := range v.rows {
				clear(i, 0, v.cols)
			}
		}
	case 'K':
		switch arg(0, 0) {
		case 0:
			clear(v.r, v.c, v.cols)
		case 1:
			clear(v.r, 0, v.c+1)
		default:
			clear(v.r, 0, v.cols)
		}
	case 'n':
		if arg(0, 0) == 6 && !private {
			return fmt.Sprintf("\x1b[%d;%dR", v.r+1, v.c+1)
		}
	case 'm', 'h', 'l', 't', 'r', 'q':
	default:
		v.unknown = append(v.unknown, fmt.Sprintf("CSI %s %c", params, final))
	}
	return ""
}

// line is row i of the screen (the right half of a wide rune dropped, trailing blanks cut).
func (v *vt) line(i int) string {
	var b strings.Builder
	for _, r := range v.grid[i] {
		switch r {
		case wideTail:
		case 0:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// Screen is the screen's rows, and Cursor where the cursor is (row, column from 0).
func (v *vt) Screen() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	lines := make([]string, v.rows)
	for i := range lines {
		lines[i] = v.line(i)
	}
	return lines
}

func (v *vt) Cursor() (row, col int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.r, v.c
}

// All is what scrolled away and then the screen, as text.
func (v *vt) All() string {
	v.mu.Lock()
	lines := append([]string(nil), v.scrolled...)
	v.mu.Unlock()
	return strings.TrimRight(strings.Join(append(lines, v.Screen()...), "\n"), "\n")
}

func (v *vt) Raw() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.raw.String()
}

func (v *vt) Unknown() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.unknown...)
}

// Dump shows the screen with its cursor, for failure messages.
func (v *vt) Dump() string {
	r, c := v.Cursor()
	var b strings.Builder
	fmt.Fprintf(&b, "cursor row %d col %d\n", r, c)
	for i, l := range v.Screen() {
		fmt.Fprintf(&b, "%2d|%s|\n", i, l)
	}
	return b.String()
}

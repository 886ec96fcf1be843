package main

import (
	"bytes"
	"slices"
	"testing"
)

// The test terminal itself: wide runes, xterm's autowrap (a wide rune that does not fit in the
// last column goes to the next row), cursor movements, erasures, and the cursor report.
func TestVT(t *testing.T) {
	var answers bytes.Buffer
	v := newVT(4, 10, &answers)
	v.Write([]byte("ab中文字x")) // 2 + 6 + 1 = 9 columns
	if l, r, c := v.Screen()[0], 0, 9; l != "ab中文字x" || !cursorAt(v, r, c) {
		t.Fatalf("row 0: %q\n%s", l, v.Dump())
	}
	v.Write([]byte("好")) // 1 column left: wraps, the last column stays empty
	if s := v.Screen(); s[0] != "ab中文字x" || s[1] != "好" || !cursorAt(v, 1, 2) {
		t.Fatalf("wide wrap:\n%s", v.Dump())
	}
	v.Write([]byte("12345678")) // fills row 1 exactly: the cursor waits in the last column
	if !cursorAt(v, 1, 9) {
		t.Fatalf("full row:\n%s", v.Dump())
	}
	v.Write([]byte("Z")) // the pending wrap
	if s := v.Screen(); s[1] != "好12345678" || s[2] != "Z" || !cursorAt(v, 2, 1) {
		t.Fatalf("pending wrap:\n%s", v.Dump())
	}
	v.Write([]byte("\x1b[2A\x1b[3C")) // up 2, right 3: column 4, where 文 starts
	v.Write([]byte("\x1b[K"))
	if s := v.Screen(); s[0] != "ab中" || !cursorAt(v, 0, 4) {
		t.Fatalf("erase to the end of the line:\n%s", v.Dump())
	}
	v.Write([]byte("\r\x1b[1B\x1b[J")) // column 0 of row 1, erase to the end of the screen
	if s := v.Screen(); !slices.Equal(s, []string{"ab中", "", "", ""}) {
		t.Fatalf("erase below:\n%s", v.Dump())
	}
	v.Write([]byte("\x1b[4;5H\x1b[6n"))
	if answers.String() != "\x1b[4;5R" {
		t.Errorf("cursor report %q", answers.String())
	}
	v.Write([]byte("\n\x1b[31m紅\x1b[0m\b\b色")) // scrolls; colours ignored; BS moves one column
	if s := v.Screen(); s[3] != "    色" || v.scrolled[0] != "ab中" {
		t.Errorf("scroll, colour, backspace:\n%s%q", v.Dump(), v.scrolled)
	}
	v.Write([]byte("\x1b[?2004h\x1b]0;title\x07\x1b[5Z"))
	if u := v.Unknown(); len(u) != 1 || u[0] != "CSI 5 Z" {
		t.Errorf("unknown sequences %q", u)
	}
	v.Write([]byte{0xe4, 0xb8}) // half a rune: kept for the next write
	v.Write([]byte{0xad})
	if s := v.Screen(); s[3] != "    色中" {
		t.Errorf("a rune split across writes:\n%s", v.Dump())
	}
}

func cursorAt(v *vt, row, col int) bool {
	r, c := v.Cursor()
	return r == row && c == col
}

package markdown

// CJK-friendly emphasis.
//
// CommonMark decides whether a run of `*` or `_` can open or close emphasis from the characters
// on either side of it (the "flanking" rules). Those rules treat every Unicode punctuation
// character alike, which breaks the most common emphasis in Chinese and Japanese text:
//
//	**注意：**这个很重要。
//
// The closing `**` is preceded by the full-width colon (punctuation) and followed by a Han
// letter, so CommonMark says it is not right-flanking and the stars are printed literally.
//
// This file implements the "CommonMark CJK-friendly amendments" (the rules behind
// markdown-it-cjk-friendly): punctuation that is itself a CJK character no longer blocks
// flanking, and a CJK character on the other side of punctuation counts like whitespace does.
// Everything that involves no CJK character on either side behaves exactly as CommonMark.
// The same rules are applied to GFM strikethrough (`~~`).

import (
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
	"golang.org/x/text/width"
)

// isCJK reports whether r is a "CJK character" in the sense of the amendment: its East Asian
// Width is Wide, Fullwidth or Halfwidth and it is not an emoji shown as emoji by default, or its
// script is Hangul. Han, Hiragana, Katakana, Hangul, Bopomofo, CJK punctuation (、。「」《》…)
// and the fullwidth forms (：，！？（）…) are all CJK characters; the ambiguous-width quotes
// “ ” ‘ ’ are not.
func isCJK(r rune) bool {
	if r < 0x1100 {
		return false
	}
	if unicode.Is(unicode.Hangul, r) {
		return true
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth, width.EastAsianHalfwidth:
		return !isEmojiPresentation(r)
	}
	return false
}

// emojiPresentation lists the wide code points that are shown as emoji by default
// (Emoji_Presentation=Yes). The supplementary-plane emoji blocks are listed as whole ranges:
// the few wide non-emoji symbols in them are not CJK text either.
var emojiPresentation = [][2]rune{
	{0x231A, 0x231B}, {0x23E9, 0x23EC}, {0x23F0, 0x23F0}, {0x23F3, 0x23F3},
	{0x25FD, 0x25FE}, {0x2614, 0x2615}, {0x2648, 0x2653}, {0x267F, 0x267F},
	{0x2693, 0x2693}, {0x26A1, 0x26A1}, {0x26AA, 0x26AB}, {0x26BD, 0x26BE},
	{0x26C4, 0x26C5}, {0x26CE, 0x26CE}, {0x26D4, 0x26D4}, {0x26EA, 0x26EA},
	{0x26F2, 0x26F3}, {0x26F5, 0x26F5}, {0x26FA, 0x26FA}, {0x26FD, 0x26FD},
	{0x2705, 0x2705}, {0x270A, 0x270B}, {0x2728, 0x2728}, {0x274C, 0x274C},
	{0x274E, 0x274E}, {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2795, 0x2797},
	{0x27B0, 0x27B0}, {0x27BF, 0x27BF}, {0x2B1B, 0x2B1C}, {0x2B50, 0x2B50},
	{0x2B55, 0x2B55},
	{0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A},
	{0x1F201, 0x1F201}, {0x1F21A, 0x1F21A}, {0x1F22F, 0x1F22F}, {0x1F232, 0x1F236},
	{0x1F238, 0x1F23A}, {0x1F250, 0x1F251},
	{0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7FF}, {0x1F900, 0x1F9FF},
	{0x1FA70, 0x1FAFF},
}

func isEmojiPresentation(r rune) bool {
	if r < 0x231A {
		return false
	}
	for _, rg := range emojiPresentation {
		if r < rg[0] {
			return false
		}
		if r <= rg[1] {
			return true
		}
	}
	return false
}

// isIVS reports an Ideographic Variation Selector (Variation Selectors Supplement block).
func isIVS(r rune) bool { return r >= 0xE0100 && r <= 0xE01EF }

// isGeneralVS reports a non-emoji general-use variation selector (U+FE00..U+FE0E).
func isGeneralVS(r rune) bool { return r >= 0xFE00 && r <= 0xFE0E }

func isPunct(r rune) bool { return util.IsPunctRune(r) }
func isSpace(r rune) bool { return util.IsSpaceRune(r) }

// flanking computes whether a delimiter run can open and can close, following CommonMark 0.31
// §6.2 as amended by the CJK-friendly specification.
//
// before is the character before the run ('\n' at the start of a line); before2 is the one
// before that, used only when before is a variation selector (a "sequence" is a character
// followed by a variation selector). after is the character after the run (' ' at the end of the
// line).
func flanking(delim byte, before2, before, after rune) (canOpen, canClose bool) {
	beforeIVS := isIVS(before)
	if isGeneralVS(before) {
		before = before2
	}
	beforeSpace := isSpace(before)
	beforePunct := isPunct(before)
	beforeCJK := isCJK(before)
	beforeNonCJKPunct := beforePunct && !beforeCJK

	afterSpace := isSpace(after)
	afterPunct := isPunct(after)
	afterCJK := isCJK(after)
	afterNonCJKPunct := afterPunct && !afterCJK

	left := !afterSpace &&
		(!afterNonCJKPunct || beforeSpace || beforeNonCJKPunct || beforeCJK || beforeIVS)
	right := !beforeSpace &&
		(!beforeNonCJKPunct || afterSpace || afterNonCJKPunct || afterCJK)

	if delim == '_' {
		return left && (!right || beforePunct), right && (!left || afterPunct)
	}
	return left, right
}

// scanDelimiter is parser.ScanDelimiter with the CJK-friendly flanking rules.
func scanDelimiter(block text.Reader, minimum int, processor parser.DelimiterProcessor) (*parser.Delimiter, text.Segment) {
	line, segment := block.PeekLine()
	if len(line) == 0 || !processor.IsDelimiter(line[0]) {
		return nil, segment
	}
	c := line[0]
	j := 1
	for j < len(line) && line[j] == c {
		j++
	}
	if j < minimum {
		return nil, segment
	}
	after := ' '
	if j < len(line) {
		after, _ = utf8.DecodeRune(line[j:])
	}
	before := block.PrecendingCharacter()
	before2 := rune('\n')
	if isGeneralVS(before) {
		src := block.Source()
		start := segment.Start - utf8.RuneLen(before)
		if start > 0 && start <= len(src) {
			before2, _ = utf8.DecodeLastRune(src[:start])
		}
	}
	canOpen, canClose := flanking(c, before2, before, after)
	return parser.NewDelimiter(canOpen, canClose, j, c, processor), segment
}

// emphasis: `*` and `_`.

type cjkEmphasisDelimiter struct{}

func (cjkEmphasisDelimiter) IsDelimiter(b byte) bool { return b == '*' || b == '_' }
func (cjkEmphasisDelimiter) CanOpenCloser(opener, closer *parser.Delimiter) bool {
	return opener.Char == closer.Char
}
func (cjkEmphasisDelimiter) OnMatch(consumes int) ast.Node { return ast.NewEmphasis(consumes) }

type cjkEmphasisParser struct{}

func (cjkEmphasisParser) Trigger() []byte { return []byte{'*', '_'} }

func (cjkEmphasisParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	d, segment := scanDelimiter(block, 1, cjkEmphasisDelimiter{})
	if d == nil {
		return nil
	}
	d.Segment = segment.WithStop(segment.Start + d.OriginalLength)
	block.Advance(d.OriginalLength)
	pc.PushDelimiter(d)
	return d
}

// strikethrough: `~` and `~~` (GFM).

type cjkStrikeDelimiter struct{}

func (cjkStrikeDelimiter) IsDelimiter(b byte) bool { return b == '~' }
func (cjkStrikeDelimiter) CanOpenCloser(opener, closer *parser.Delimiter) bool {
	return opener.Char == closer.Char
}
func (cjkStrikeDelimiter) OnMatch(consumes int) ast.Node { return extast.NewStrikethrough() }

type cjkStrikeParser struct{}

func (cjkStrikeParser) Trigger() []byte { return []byte{'~'} }

func (cjkStrikeParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	if block.PrecendingCharacter() == '~' {
		return nil
	}
	d, segment := scanDelimiter(block, 1, cjkStrikeDelimiter{})
	if d == nil || d.OriginalLength > 2 {
		return nil
	}
	d.Segment = segment.WithStop(segment.Start + d.OriginalLength)
	block.Advance(d.OriginalLength)
	pc.PushDelimiter(d)
	return d
}

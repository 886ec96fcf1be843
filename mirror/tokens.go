package mirror

import (
	"unicode"
	"unicode/utf8"
)

// estimateTokens approximates the o200k_base token count of s without its
// vocabulary (linking the vocabulary would add about 7 MB and 0.2 s of link
// time to every notebook cell). It follows o200k's pre-tokenizer: a word
// with its leading space is usually one token, long words a few; numbers
// split in groups of 3 digits; runs of punctuation and of newlines are
// short tokens; Chinese and Japanese text is about 0.8 token per character.
func estimateTokens(s string) int {
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == ' ' && len(s) > 1 && s[1] != ' ' && s[1] != '\n' && s[1] != '\t':
			s = s[1:] // a leading space belongs to the next word or punctuation
			continue
		case isWordRune(r) && r < utf8.RuneSelf:
			l := runLen(s, func(r rune) bool { return isWordRune(r) && r < utf8.RuneSelf })
			n += (l + 7) / 8
			s = s[l:]
		case unicode.IsDigit(r):
			l := runLen(s, unicode.IsDigit)
			n += (utf8.RuneCountInString(s[:l]) + 2) / 3
			s = s[l:]
		case isCJK(r):
			l := runLen(s, isCJK)
			n += (utf8.RuneCountInString(s[:l])*8 + 9) / 10
			s = s[l:]
		case unicode.IsLetter(r) || unicode.IsMark(r):
			l := runLen(s, func(r rune) bool { return (unicode.IsLetter(r) || unicode.IsMark(r)) && !isCJK(r) })
			n += (utf8.RuneCountInString(s[:l]) + 2) / 3
			s = s[l:]
		case unicode.IsSpace(r):
			l := runLen(s, unicode.IsSpace)
			n++
			s = s[l:]
		case r < utf8.RuneSelf:
			l := runLen(s, func(r rune) bool {
				return r < utf8.RuneSelf && unicode.IsPunct(r) || unicode.IsSymbol(r) && r < utf8.RuneSelf
			})
			if l == 0 {
				l = size
			}
			n += (l + 2) / 3
			s = s[l:]
			s = s[runLen(s, func(r rune) bool { return r == '\n' || r == '\r' }):] // "[\r\n/]*" joins it
		default: // other symbols and punctuation, emoji: about one token each
			n++
			s = s[size:]
		}
	}
	return n
}

func isWordRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '\'')
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// runLen is the length in bytes of the prefix of s whose runes satisfy f.
func runLen(s string, f func(rune) bool) int {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !f(r) {
			break
		}
		i += size
	}
	return i
}

// countTokens counts the tokens of s with the handler's counter.
func (h *Handler) countTokens(s string) int {
	if s == "" {
		return 0
	}
	return h.tokens(s)
}

// truncateTokens returns the longest prefix of s (cut at a rune boundary)
// of at most max tokens, and whether it had to cut.
func (h *Handler) truncateTokens(s string, max int) (string, bool) {
	if h.countTokens(s) <= max {
		return s, false
	}
	// Binary search on rune boundaries: counts grow with the prefix.
	runes := []rune(s)
	lo, hi := 0, len(runes) // the prefix of lo runes fits, of hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if h.countTokens(string(runes[:mid])) <= max {
			lo = mid
		} else {
			hi = mid
		}
	}
	return string(runes[:lo]), true
}

// promptTokens estimates input tokens like the real API: the text plus a
// few tokens of framing per message.
func (h *Handler) promptTokens(instructions string, turns []turn) int {
	n := 0
	if instructions != "" {
		n += h.countTokens(instructions) + 4
	}
	for _, t := range turns {
		n += h.countTokens(t.Text) + 4
	}
	return n + 3
}

// Package secret keeps API keys out of everything gonbchat writes or shows. It is the one place
// that knows what a key looks like: every error line, notice, event dump, save file and log goes
// through Redact (or is checked with Contains) before it leaves the library.
//
// Two rules combine:
//   - the values of the keys this process was configured with (Register: the environment's key
//     variables, WithAPIKey, every key of a pool), in any shape a server may echo them back
//     (whole, JSON- or URL-escaped, or a long enough piece of one);
//   - anything shaped like a well-known provider key (sk-…, gsk_…, xai-…, fw_…, AIza…), for keys
//     this process never saw.
package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Mask is what a redacted key is replaced with.
const Mask = "[redacted key]"

// minRegistered is the shortest value Register keeps: shorter strings ("none", "x") are not
// secrets, and hiding them would mangle ordinary text.
const minRegistered = 8

// pieceLen is the length of a piece of a registered key that counts as the key: a server that
// echoes 12 or more characters of it in a row has echoed too much.
const pieceLen = 12

var (
	mu     sync.RWMutex
	values = map[string]bool{} // registered keys, and their escaped forms
	pieces = map[string]bool{} // every pieceLen-byte substring of a registered key
)

// Register adds keys whose values must never be shown. Values shorter than 8 bytes are ignored.
// It is cheap to call again with the same values.
func Register(keys ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, k := range keys {
		k = strings.TrimSpace(k)
		if len(k) < minRegistered || values[k] {
			continue
		}
		for _, form := range []string{k, url.QueryEscape(k), jsonEscape(k)} {
			values[form] = true
		}
		for i := 0; i+pieceLen <= len(k); i++ {
			pieces[k[i:i+pieceLen]] = true
		}
	}
}

func jsonEscape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// keyPattern matches well-known provider key shapes: a prefix at the start of a word (not inside
// a path segment such as notes/x-sk-2024/) followed by at least 20 key characters.
var keyPattern = regexp.MustCompile(`(^|[^A-Za-z0-9_\-./])((?:sk|gsk|xai|fw|pk|rk)[-_][A-Za-z0-9_\-*]{20,}|AIza[0-9A-Za-z_\-]{30,})`)

// Redact returns s with every registered key (whole, escaped, or a piece of 12 characters or
// more) and anything shaped like a provider key replaced by Mask.
func Redact(s string) string {
	if s == "" {
		return s
	}
	mu.RLock()
	if len(values) > 0 {
		for v := range values {
			if strings.Contains(s, v) {
				s = strings.ReplaceAll(s, v, Mask)
			}
		}
		s = redactPieces(s)
	}
	mu.RUnlock()
	return keyPattern.ReplaceAllString(s, "${1}"+Mask)
}

// redactPieces masks every run of s covered by pieces of registered keys. mu is held.
func redactPieces(s string) string {
	if len(s) < pieceLen || len(pieces) == 0 {
		return s
	}
	covered := make([]bool, len(s))
	any := false
	for i := 0; i+pieceLen <= len(s); i++ {
		if pieces[s[i:i+pieceLen]] {
			any = true
			for j := i; j < i+pieceLen; j++ {
				covered[j] = true
			}
		}
	}
	if !any {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if !covered[i] {
			b.WriteByte(s[i])
			i++
			continue
		}
		for i < len(s) && covered[i] {
			i++
		}
		b.WriteString(Mask)
	}
	return b.String()
}

// Known reports whether s holds one of the keys this process was configured with (Register),
// whole, escaped or a long enough piece of it; unlike Contains it ignores text that merely looks
// like a key, so it can guard what a person writes (a prompt) without false alarms.
func Known(s string) bool {
	if len(s) < minRegistered {
		return false
	}
	mu.RLock()
	defer mu.RUnlock()
	for v := range values {
		if strings.Contains(s, v) {
			return true
		}
	}
	return redactPieces(s) != s
}

// Contains reports whether s holds a registered key (in any of the shapes Redact hides) or
// something shaped like a provider key. Savers use it to refuse writing such text.
func Contains(s string) bool {
	return s != "" && Redact(s) != s
}

// Fingerprint names a key without revealing it: "key#" and six hex digits of its SHA-256.
// The same key always has the same fingerprint, so a pool's state and its messages can name
// keys by it.
func Fingerprint(key string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	return "key#" + hex.EncodeToString(sum[:3])
}

// RegisterEnv registers the values of the named environment variables, read through lookup
// (usually os.Getenv).
func RegisterEnv(lookup func(string) string, names ...string) {
	for _, n := range names {
		Register(lookup(n))
	}
}

package history

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/gonbchat/gonbchat/llm"

	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/internal/secret"
)

// File is what Save writes and Load reads: a history and what a chat needs to go on with
// it. It has no field for an API key, base URL or any other credential, on purpose.
type File struct {
	Messages []llm.Message // IDs, pins and marks included
	MaxCount int           // the message cap (0: none)
	Usage    llm.Usage     // token totals so far

	Model        string // the model the chat used, if the caller sets it
	Instructions string // the chat's instructions, if the caller keeps them apart from Messages
	// Meta holds other settings worth keeping (temperature, a title...). Save refuses keys
	// and values that look like credentials.
	Meta map[string]string

	SavedAt time.Time // set by Save
}

// FormatVersion is the version of the save file format this package writes. Load reads
// files of this version and older ones.
const FormatVersion = 1

// MaxFileSize bounds the size of a save file, so that a hostile or broken file cannot make
// Load allocate without bound.
const MaxFileSize = 64 << 20

// The layout of a save file: the magic line, the format version (uint32, big-endian), the
// payload length (uint64, big-endian), the gob-encoded File, and the SHA-256 of the payload.
const (
	magic     = "GONBCHAT-HIST\n"
	headerLen = len(magic) + 4 + 8
	sumLen    = sha256.Size
)

// Errors that a *FormatError wraps, to tell the cases apart with errors.Is.
var (
	ErrEmpty        = errors.New("empty file")
	ErrTruncated    = errors.New("truncated file")
	ErrCorrupt      = errors.New("corrupt file")
	ErrNotHistory   = errors.New("not a gonbchat history")
	ErrNewerVersion = errors.New("written by a newer gonbchat")
)

// FormatError reports a file that is not a loadable history: it names the file and says
// what was found there.
type FormatError struct {
	Path   string
	Reason string // what was found, e.g. "is a Python pickle, not a gonbchat history"
	Err    error  // ErrEmpty, ErrTruncated, ErrCorrupt, ErrNotHistory or ErrNewerVersion
}

func (e *FormatError) Error() string { return "history: " + e.Path + " " + e.Reason }

func (e *FormatError) Unwrap() error { return e.Err }

// Snapshot returns the history as a File, ready to Save; set Model, Instructions or Meta
// before saving if the chat has them.
func (l *List) Snapshot() *File {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &File{Messages: append([]llm.Message(nil), l.msgs...), MaxCount: l.maxCount, Usage: l.usage}
}

// List returns a new List holding the file's history, cap and usage, configured further by
// opts (strategies hold functions, so they are not saved: set them again). Messages keep
// their IDs, pins and marks; missing or repeated IDs are replaced by new ones.
func (f *File) List(opts ...Option) *List {
	l := &List{maxCount: max(f.MaxCount, 0), usage: f.Usage}
	seen := make(map[uint64]bool, len(f.Messages))
	for _, m := range f.Messages {
		l.lastID = max(l.lastID, m.ID)
	}
	renumber := l.lastID > 1<<62 // room for new IDs, whatever the file says
	if renumber {
		l.lastID = 0
	}
	for _, m := range f.Messages {
		if renumber || m.ID == 0 || seen[m.ID] {
			l.lastID++
			m.ID = l.lastID
		}
		seen[m.ID] = true
		l.msgs = append(l.msgs, m)
	}
	for _, o := range opts {
		o(l)
	}
	l.trimLocked()
	return l
}

// Save writes the list's history, cap and usage to path (see the function Save).
func (l *List) Save(path string) error { return Save(path, l.Snapshot()) }

// LoadList reads a history saved at path (see Load) and returns it as a List.
func LoadList(path string, opts ...Option) (*List, error) {
	f, err := Load(path)
	if err != nil {
		return nil, err
	}
	return f.List(opts...), nil
}

// Save writes f to path, atomically: a reader (or a later Load after a crash or a kill)
// finds either the previous file or the new one, whole. Saves of the same path from several
// processes are serialized by an exclusive lock on path+".lock". The file is readable by its
// owner only. Save sets f.SavedAt.
func Save(path string, f *File) error {
	if err := checkSecrets(f); err != nil {
		return err
	}
	for i, m := range f.Messages {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("history: not saving %s: message %d: %w", path, i, err)
		}
	}
	f.SavedAt = time.Now().UTC()
	data, err := encodeFile(f)
	if err != nil {
		return fmt.Errorf("history: not saving %s: %w", path, err)
	}
	unlock, err := fsutil.Lock(path)
	if err != nil {
		return fmt.Errorf("history: saving %s: %w", path, err)
	}
	defer unlock()
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("history: saving %s: %w", path, err)
	}
	return nil
}

func encodeFile(f *File) ([]byte, error) {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(f); err != nil {
		return nil, err
	}
	if headerLen+payload.Len()+sumLen > MaxFileSize {
		return nil, fmt.Errorf("the history takes %d bytes, more than the %d a save file may hold; trim it first", payload.Len(), MaxFileSize)
	}
	out := make([]byte, 0, headerLen+payload.Len()+sumLen)
	out = append(out, magic...)
	out = binary.BigEndian.AppendUint32(out, FormatVersion)
	out = binary.BigEndian.AppendUint64(out, uint64(payload.Len()))
	out = append(out, payload.Bytes()...)
	sum := sha256.Sum256(payload.Bytes())
	return append(out, sum[:]...), nil
}

// checkSecrets refuses Meta entries that look like credentials: nothing secret goes into a
// save file. The error never repeats the value.
func checkSecrets(f *File) error {
	for k, v := range f.Meta {
		if credentialName(k) {
			return fmt.Errorf("history: refusing to save Meta[%q]: it looks like a credential, and credentials never go into a save file", k)
		}
		if secret.Contains(v) {
			return fmt.Errorf("history: refusing to save Meta[%q]: its value holds an API key, and credentials never go into a save file", k)
		}
	}
	for _, s := range []string{f.Model, f.Instructions} {
		if secret.Contains(s) {
			return errors.New("history: refusing to save: the model or instructions hold an API key")
		}
	}
	return nil
}

// credentialName reports whether a Meta key names a credential: "api_key", "OPENAI_TOKEN",
// "apiKey", "secret", "password"... but not "max_tokens" or "temperature".
func credentialName(k string) bool {
	words := strings.FieldsFunc(strings.ToLower(k), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	})
	for _, w := range words {
		for _, suffix := range []string{"key", "token", "secret", "password", "passwd", "credential", "credentials"} {
			if strings.HasSuffix(w, suffix) {
				return true
			}
		}
		switch w {
		case "auth", "authorization", "cookie", "bearer":
			return true
		}
	}
	return false
}

// Load reads a history saved by Save. A missing file gives an error matching
// fs.ErrNotExist; an empty, truncated, corrupt, foreign (a Python pickle, a JSON file...)
// or newer file gives a *FormatError saying what is there. Load takes no lock and leaves no
// file behind: Save replaces the file by an atomic rename, so a Load sees the old file or the
// new one, whole.
func Load(path string) (*File, error) {
	data, err := fsutil.ReadFile(path, MaxFileSize)
	var le *fsutil.LimitError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("history: %s does not exist (nothing was saved there): %w", fsutil.Name(path), fs.ErrNotExist)
	case errors.As(err, &le):
		return nil, &FormatError{Path: path, Reason: fmt.Sprintf("is larger than %d bytes: not a gonbchat history", MaxFileSize), Err: ErrNotHistory}
	case err != nil:
		return nil, fmt.Errorf("history: %w", err)
	}
	return decodeFile(path, data)
}

// decodeFile parses a save file. It never panics, and allocates at most a few times
// len(data).
func decodeFile(path string, data []byte) (f *File, err error) {
	bad := func(e error, format string, args ...any) (*File, error) {
		return nil, &FormatError{Path: path, Reason: fmt.Sprintf(format, args...), Err: e}
	}
	switch {
	case len(data) == 0:
		return bad(ErrEmpty, "is empty")
	case len(data) > MaxFileSize:
		return bad(ErrNotHistory, "is larger than %d bytes: not a gonbchat history", MaxFileSize)
	case len(data) < len(magic) && strings.HasPrefix(magic, string(data)):
		return bad(ErrTruncated, "is truncated (%d bytes, cut inside the header)", len(data))
	case !bytes.HasPrefix(data, []byte(magic)):
		return foreign(path, data)
	case len(data) < headerLen:
		return bad(ErrTruncated, "is truncated (%d bytes, cut inside the header)", len(data))
	}
	version := binary.BigEndian.Uint32(data[len(magic):])
	size := binary.BigEndian.Uint64(data[len(magic)+4:])
	rest := data[headerLen:]
	switch {
	case version == 0:
		return bad(ErrCorrupt, "is corrupt (format version 0)")
	case version > FormatVersion:
		return bad(ErrNewerVersion, "was written by a newer gonbchat (format version %d); this one reads versions up to %d: update gonbchat to load it", version, FormatVersion)
	case size > MaxFileSize:
		return bad(ErrCorrupt, "is corrupt (it declares a %d-byte history, more than any save file holds)", size)
	case uint64(len(rest)) < size+sumLen:
		return bad(ErrTruncated, "is truncated (%d of %d bytes)", len(data), uint64(headerLen)+size+sumLen)
	case uint64(len(rest)) > size+sumLen:
		return bad(ErrCorrupt, "is corrupt (%d unexpected bytes after the history)", uint64(len(rest))-size-sumLen)
	}
	payload, sum := rest[:size], rest[size:]
	if want := sha256.Sum256(payload); !bytes.Equal(sum, want[:]) {
		return bad(ErrCorrupt, "is corrupt (checksum mismatch: the file was changed or damaged after it was saved)")
	}
	f, derr := decodePayload(payload)
	if derr != nil {
		return bad(ErrCorrupt, "is corrupt (%v)", derr)
	}
	if verr := f.Validate(); verr != nil {
		return bad(ErrCorrupt, "is corrupt (%v)", verr)
	}
	return f, nil
}

// Validate reports whether every message of f can be sent (see llm.Message.Validate).
func (f *File) Validate() error {
	for i, m := range f.Messages {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	return nil
}

// decodePayload decodes the gob payload, turning a panic of the decoder into an error.
func decodePayload(payload []byte) (f *File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("undecodable history: %v", r)
		}
	}()
	dec := gob.NewDecoder(bytes.NewReader(payload))
	f = new(File)
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("undecodable history: %v", err)
	}
	return f, nil
}

// foreign says what a file that is not a gonbchat history looks like.
func foreign(path string, data []byte) (*File, error) {
	reason := ""
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case len(data) >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5:
		reason = fmt.Sprintf("is a Python pickle (protocol %d), not a gonbchat history; pickles cannot be loaded safely: export the messages as JSON in Python and use ImportJSON", data[1])
	case len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{'):
		reason = "is a JSON file, not a gonbchat history; if it holds exported messages, use ImportJSON"
	default:
		head := data[:min(len(data), 8)]
		reason = fmt.Sprintf("is not a gonbchat history (it starts with % x, not %q)", head, strings.TrimSpace(magic))
	}
	return nil, &FormatError{Path: path, Reason: reason, Err: ErrNotHistory}
}

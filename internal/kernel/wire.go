// Package kernel is gonbchat's kernel mode: in a GoNB kernel whose spec sets
// GOFLAGS=-tags=gonbchat_kernel (install.sh writes it), the packages a lesson imports (chatcell,
// chatcell/completions, display) compile to thin stubs that forward every call to one helper
// process per kernel, cmd/gonbchatd, which holds everything heavy: the chats, the SDK and HTTP,
// streaming, the Markdown renderer, the offline model, the state files. A cell then builds and
// links about as fast as a cell that does not import gonbchat. Without the tag (go run, go test,
// a kernel installed by hand) the same packages run in-process, as always.
//
// This package is both sides of the wire. The cell side (client.go) links only light standard
// packages (os, syscall, encoding/json…): it dials the helper's unix socket under
// $GONB_TMP_DIR/.gonbchat, starting the helper on first use under a lock (building it once per
// gonbchat version into the user's cache directory), and makes calls. The helper side is package
// internal/kernel/helper. The stubs and the helper's table of calls are generated from the real
// packages by internal/kernel/gen (go generate ./internal/kernel/...).
//
// The protocol: one JSON object (a Frame) per line, both ways, over one connection per cell
// program. The first frame is the cell's Hello (its environment, working directory and GoNB
// pipes); then calls, each with an id, whose results, streamed items, relayed standard output
// and input requests come back as frames with that id. The helper writes the cell's displays into
// the cell's own GoNB pipe (so the cell links no gonbui), and relays what the chat prints to the
// cell's standard output.
package kernel

//go:generate go run ./gen

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/gonbchat/gonbchat/internal/kernelenv"
)

// Protocol is the version of the wire format; a helper refuses a cell of another version.
const Protocol = 1

// Tag is the build tag that selects kernel mode.
const Tag = "gonbchat_kernel"

// Hello is the first frame a cell sends: who it is and what it runs in.
type Hello struct {
	Protocol int      `json:"protocol"`
	Key      string   `json:"key"` // the build identity of the cell's gonbchat (see buildKey)
	PID      int      `json:"pid"`
	Kernel   int      `json:"kernel"` // the cell's parent: the GoNB kernel
	Dir      string   `json:"dir"`    // the cell's working directory
	Env      []string `json:"env"`
	Pipe     string   `json:"pipe,omitempty"` // $GONB_PIPE: where displays go
	PipeBack string   `json:"pipe_back,omitempty"`
}

// Frame is one message, either way.
type Frame struct {
	ID    int64  `json:"id,omitempty"`
	Hello *Hello `json:"hello,omitempty"`

	// cell → helper
	Call      string            `json:"call,omitempty"` // "New", "Chat.Ask", "display.Info"…
	Recv      int64             `json:"recv,omitempty"` // the receiver's handle, for a method
	Args      []json.RawMessage `json:"args,omitempty"`
	PipeOpen  bool              `json:"pipe_open,omitempty"` // the cell opened $GONB_PIPE itself (gonbui)
	Cancel    bool              `json:"cancel,omitempty"`    // the call's context is done
	Stop      bool              `json:"stop,omitempty"`      // the caller stopped reading a stream
	Interrupt bool              `json:"interrupt,omitempty"` // the cell got SIGINT
	Line      *string           `json:"line,omitempty"`      // a line of the cell's stdin (ReadLine)
	EOF       bool              `json:"eof,omitempty"`

	// helper → cell
	Result   []json.RawMessage `json:"result,omitempty"`
	Done     bool              `json:"done,omitempty"`  // the call is over (Result holds its results)
	Yield    []json.RawMessage `json:"yield,omitempty"` // one item of a stream
	Fail     string            `json:"fail,omitempty"`  // the call could not be made: one line
	Out      string            `json:"out,omitempty"`   // text the call printed
	Fd       int               `json:"fd,omitempty"`    // 1 or 2, for Out
	ReadLine bool              `json:"readline,omitempty"`
	Stale    bool              `json:"stale,omitempty"` // hello refused: the helper runs another build
}

// ErrData is an error as it crosses: its one line, and what errors.Is and errors.As must still
// find in it on the cell's side.
type ErrData struct {
	Line   string         `json:"line"`
	Is     []string       `json:"is,omitempty"` // names of sentinel errors it matches (see Sentinels)
	API    *APIErrData    `json:"api,omitempty"`
	Stream *StreamErrData `json:"stream,omitempty"`
	Limit  *LimitErrData  `json:"limit,omitempty"`
	Format *FormatErrData `json:"format,omitempty"`
	Path   *PathErrData   `json:"path,omitempty"`
}

// APIErrData is chatcell.APIError's data.
type APIErrData struct {
	StatusCode                 int
	Code, Param, Type, Message string
}

// StreamErrData is chatcell.StreamError's data.
type StreamErrData struct{ Code, Message, Raw string }

// LimitErrData is history.LimitError's data.
type LimitErrData struct {
	Limit, Unit       string
	Max, Have, Pinned int
}

// FormatErrData is history.FormatError's data (its Err is one of the sentinels in Is).
type FormatErrData struct{ Path, Reason string }

// PathErrData is an *fs.PathError's data (its Err is the sentinels in Is, or Text).
type PathErrData struct{ Op, Path, Text string }

// OptData is an option as it crosses: the name of its constructor and its arguments. The helper
// calls the real constructor. Err is set when the option cannot cross (it is reported where the
// option is used).
type OptData struct {
	Name string            `json:"name"`
	Args []json.RawMessage `json:"args,omitempty"`
	Err  string            `json:"err,omitempty"`
}

// PoolData is a key pool (keypool.Pool) as it crosses: the helper builds the same pool, which
// shares its state with the cell's through the state directory.
type PoolData struct {
	Keys     []string `json:"keys"`
	Name     string   `json:"name"`
	StateDir string   `json:"state_dir,omitempty"`
	Cooldown int64    `json:"cooldown,omitempty"`
	MaxWait  int64    `json:"max_wait"`
	Err      string   `json:"err,omitempty"` // the pool holds what cannot cross (functions)
}

// StrategyData is a history.Strategy as it crosses.
type StrategyData struct {
	Kind    string `json:"kind"` // "window", "tokens"
	N       int    `json:"n"`
	Counter string `json:"counter,omitempty"` // a history/tokens encoding
	Err     string `json:"err,omitempty"`
}

// Dir is the kernel's gonbchat directory ($GONB_TMP_DIR/.gonbchat), "" outside a GoNB kernel.
func Dir() string { return kernelenv.StateDir() }

// SocketPath is where the helper of the kernel whose directory is dir listens. A unix socket path
// is short (108 bytes): a long directory gets a socket in the system's temporary directory.
func SocketPath(dir string) string {
	p := filepath.Join(dir, "helper.sock")
	if len(p) < 100 {
		return p
	}
	return filepath.Join(os.TempDir(), "gonbchat-"+shortHash(dir)+".sock")
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// Boundary lists what differs between the two modes' APIs, and why; everything else is the same
// (internal/kernel's TestKernelAPIIsTheSame checks it). Each of these types appears in signatures
// by the same name in both modes, so a cell that uses them as the lessons do compiles either way.
var Boundary = map[string]string{
	"chatcell.APIError":      "in-process it is the SDK's error type (it also holds the HTTP request and response, and RawJSON); in kernel mode a struct with the server's StatusCode, Code, Param, Type and Message",
	"chatcell.RequestOption": "in-process openai-go's option.RequestOption; in kernel mode any value, and WithRequestOptions is an error (the options cannot reach the helper)",
	"chatcell.KeyPool":       "in-process *keypool.Pool; in kernel mode an interface that *keypool.Pool satisfies (package keypool links net/http, which a thin cell does not)",
	"completions.Messages":   "it builds openai-go's message types: it does not exist in kernel mode",
}

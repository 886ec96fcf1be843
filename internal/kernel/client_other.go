//go:build !unix

package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"os"
)

// Kernel mode needs a unix socket and a GoNB kernel (Linux, macOS).
var errNoKernel = errors.New("gonbchat's kernel mode (-tags " + Tag + ") needs Linux or macOS: build without that tag")

// HandleInterrupts does nothing here: there is no kernel mode.
func HandleInterrupts() (release func()) { return func() {} }

// Handle is a helper-side object; there is none here.
type Handle struct{}

func New(ctor string, args []json.RawMessage) (*Handle, []json.RawMessage, error) {
	return &Handle{}, nil, errNoKernel
}

func Call(ctx context.Context, recv *Handle, name string, args []json.RawMessage) ([]json.RawMessage, error) {
	return nil, errNoKernel
}

func StreamCall(ctx context.Context, recv *Handle, name string, args []json.RawMessage, yield func([]json.RawMessage) bool) ([]json.RawMessage, error) {
	return nil, errNoKernel
}

func CallShow(ctx context.Context, recv *Handle, name string, args []json.RawMessage, aerr error) ([]json.RawMessage, error) {
	os.Stderr.WriteString("✖ " + errNoKernel.Error() + "\n")
	return nil, errNoKernel
}

func NewShow(ctor string, args []json.RawMessage, aerr error) *Handle {
	os.Stderr.WriteString("✖ " + errNoKernel.Error() + "\n")
	return &Handle{}
}

func CallWith(ctx context.Context, hs []*Handle, name string, args []json.RawMessage, aerr error) ([]json.RawMessage, error) {
	os.Stderr.WriteString("✖ " + errNoKernel.Error() + "\n")
	return nil, errNoKernel
}

func CallNew(ctx context.Context, recv *Handle, name string, args []json.RawMessage) (*Handle, []json.RawMessage, error) {
	return nil, nil, errNoKernel
}

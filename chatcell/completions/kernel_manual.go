//go:build gonbchat_kernel

package completions

// The hand-written part of completions' kernel mode (see package internal/kernel); the rest is
// generated (zz_kernel.go). Messages, which builds openai-go's message types, does not exist in
// kernel mode (linking openai-go is what kernel mode avoids).

import (
	"context"
	"errors"
	"iter"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/internal/kernel"
)

func init() { kernel.RegisterBackend("completions", Backend{}) }

// Stream implements chatcell.Backend. In kernel mode the backends run in the kernel's helper: a
// program cannot call one itself.
func (Backend) Stream(ctx context.Context, opts []chatcell.RequestOption, req *chatcell.Request) iter.Seq2[chatcell.Event, error] {
	return func(yield func(chatcell.Event, error) bool) {
		yield(chatcell.Event{}, errors.New("completions.Backend.Stream cannot be called in kernel mode: the backends run in the kernel's gonbchat helper"))
	}
}

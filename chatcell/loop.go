package chatcell

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
)

var stdin = sync.OnceValue(func() *bufio.Reader { return bufio.NewReader(os.Stdin) })

// Loop is the textbook's chat loop: it asks for a line, sends it with Ask, and repeats; an empty
// line (or the end of input) ends it. In a notebook it uses GoNB's input box; elsewhere stdin.
func (c *Chat) Loop(opts ...Option) {
	loop(c.cfg.with(opts), func(msg string) { c.Ask(msg, opts...) })
}

func loop(cfg *config, ask func(string)) {
	var r *bufio.Reader
	if cfg.input != nil {
		r = bufio.NewReader(cfg.input)
	} else {
		r = stdin()
	}
	if !cfg.quiet {
		fmt.Println("Press ↵ on an empty line to end the chat (直接按 ↵ 可結束對話)")
	}
	for {
		if cfg.input == nil && gonbui.IsNotebook {
			gonbui.RequestInput(">>> ", false)
		} else if !cfg.quiet {
			fmt.Print(">>> ")
		}
		line, err := r.ReadString('\n')
		msg := strings.TrimSpace(line)
		if msg == "" {
			return
		}
		if cfg.input != nil && !cfg.quiet {
			fmt.Println(msg)
		}
		ask(msg)
		if err == io.EOF {
			return
		}
	}
}

// Loop is the textbook's first chat loop (3-1): every line is a new request with no memory of
// the earlier ones, sent with Create. An empty line ends it.
func Loop(opts ...Option) {
	loop(newConfig(opts), func(msg string) { Create(msg, opts...) })
}

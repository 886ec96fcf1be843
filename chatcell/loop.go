package chatcell

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/internal/kernelenv"
	"github.com/janpfeifer/gonb/gonbui"
)

var stdin = sync.OnceValue(func() *bufio.Reader { return bufio.NewReader(os.Stdin) })

func loop(cfg *config, ask func(string)) {
	var r *bufio.Reader
	if cfg.input != nil {
		r = bufio.NewReader(cfg.input)
	} else {
		r = stdin()
	}
	if cfg.input == nil && gonbui.IsNotebook && !interactive() {
		if !cfg.quiet {
			fmt.Println("Loop: this notebook is running without input boxes (nbconvert or a similar runner), so the loop ends here. Open the notebook in Jupyter to chat.")
		}
		return
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

// interactive reports whether a person can answer GoNB's input boxes. GoNB asks for input even
// when the client runs the notebook without stdin (jupyter nbconvert --execute, papermill), and
// the cell would then wait forever; the cell cannot see that setting, but it can see which
// program started the kernel. GONBCHAT_INTERACTIVE=1 or 0 overrides the guess.
func interactive() bool {
	switch os.Getenv("GONBCHAT_INTERACTIVE") {
	case "1", "true", "yes":
		return true
	case "0", "false", "no":
		return false
	}
	return !kernelenv.Batch()
}

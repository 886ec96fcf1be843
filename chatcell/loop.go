//go:build !gonbchat_kernel

package chatcell

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/gonbchat/gonbchat/internal/gonbio"
	"github.com/gonbchat/gonbchat/internal/kernelenv"
)

var stdin = sync.OnceValue(func() *bufio.Reader { return bufio.NewReader(gonbio.Stdin()) })

func loop(cfg *config, ask func(string)) {
	var r *bufio.Reader
	if cfg.input != nil {
		r = bufio.NewReader(cfg.input)
	} else {
		r = stdin()
	}
	if cfg.input == nil && gonbio.IsNotebook() {
		if ok, why := interactive(cfg.lang); !ok {
			if !cfg.quiet {
				fmt.Println(tr(cfg.lang, msgLoopNoInput, why))
			}
			return
		}
	}
	if !cfg.quiet {
		fmt.Println(tr(cfg.lang, msgLoopHint))
	}
	for {
		if cfg.input == nil && gonbio.IsNotebook() {
			gonbio.RequestInput(">>> ", false)
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
func Loop(opts ...CreateOption) {
	cfg, _ := createConfig(opts)
	loop(cfg, func(msg string) { Create(msg, opts...) })
}

// EnvInteractive overrides whether a notebook cell may ask for input: "1" (a person answers
// GoNB's input boxes) or "0" (nobody does: loops end at once).
const EnvInteractive = "GONBCHAT_INTERACTIVE"

// interactive reports whether a person can answer GoNB's input boxes, and if not, why. GoNB
// asks for input even when the client runs the notebook without stdin, and the cell would then
// wait forever; the cell cannot see that setting, but it can see which program started the
// kernel. Only a known interactive frontend (Jupyter Notebook or Lab, JupyterHub's single-user
// server, VS Code) gets an input box; $GONBCHAT_INTERACTIVE overrides the guess.
func interactive(lang string) (bool, string) {
	switch strings.ToLower(os.Getenv(EnvInteractive)) {
	case "1", "true", "yes":
		return true, ""
	case "0", "false", "no":
		return false, tr(lang, msgLoopOverride, EnvInteractive+"="+os.Getenv(EnvInteractive))
	}
	switch kernelenv.Frontend() {
	case kernelenv.KindInteractive:
		return true, ""
	case kernelenv.KindBatch:
		return false, tr(lang, msgLoopBatch)
	}
	return false, tr(lang, msgLoopUnknown)
}

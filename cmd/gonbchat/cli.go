package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	dterm "github.com/gonbchat/gonbchat/display/term"
	"github.com/gonbchat/gonbchat/internal/secret"
	"golang.org/x/term"
)

const cliUsage = `usage: gonbchat [COMMAND] [flags]

A chat in the terminal that remembers the last conversation (openai2's command line).

  chat              continue the last conversation (the default)
  newchat           start a new conversation (its usage totals start at zero)
  show              show the conversation so far
  export FILE       write it as JSON (openai2's fetch_messages format)
  keys add          store an API key: typed at a hidden prompt, or one per line on
                    standard input (never as an argument); -provider NAME for another provider
  keys list         the keys gonbchat would use, by fingerprint, and where each came from
  keys clear        remove the stored keys (asks first; -yes to skip; -provider NAME)
  gateway ...       the class gateway (gonbchat gateway -h)
openai2's spellings work too: add_apikey, read_apikey, clear_apikey.

In the chat: Enter sends; an empty line, Ctrl-D, or Ctrl-C at an empty prompt ends.
Ctrl-C while a reply streams stops it (what arrived is kept, marked as cut short).
Up and Down recall earlier inputs.

Keys: the environment wins over stored keys (OPENAI_API_KEY, or the provider's variable such as
GROQ_API_KEY with -provider groq; a .env file in the current directory counts too). Several
stored keys take turns: a rate-limited key rests, a rejected one is set aside for the run.
Without a key the offline mirror model answers.

Flags:
`

// chatFlags are the flags of the chat commands; they may come before or after the command.
type chatFlags struct {
	model, provider, system, name, lang string
	offline, completions                bool
	pace                                time.Duration
}

func (f *chatFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model (default "+chatcell.DefaultModel+", or the provider's)")
	fs.StringVar(&f.provider, "provider", "", "groq, gemini, mistral, together, fireworks or openai (key from its variable, else stored keys)")
	fs.BoolVar(&f.completions, "completions", false, "use Chat Completions instead of the Responses API (implied by -provider other than openai)")
	fs.StringVar(&f.system, "system", "", "system prompt for a new conversation")
	fs.BoolVar(&f.offline, "offline", false, "use the offline mirror model even with a key")
	fs.DurationVar(&f.pace, "pace", 0, "delay between the offline model's streamed pieces, e.g. 50ms (default: its own)")
	fs.StringVar(&f.name, "name", "cli", "conversation name (several can be kept)")
	fs.StringVar(&f.lang, "lang", "", "language of gonbchat's notes and errors: zh-TW, zh-CN or en (default $GONBCHAT_LANG, else zh-TW)")
}

// stderr is where every line of the CLI's own goes: it never shows a key, even one a person
// typed where a flag's value or a command was expected.
var stderr io.Writer = redacting{os.Stderr}

type redacting struct{ w io.Writer }

func (r redacting) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, secret.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// cliMain runs the command line (but the gateway) and returns the exit status.
func cliMain(args []string) int {
	var f chatFlags
	fs := flag.NewFlagSet("gonbchat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, cliUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagStatus(err)
	}
	cmd, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	if sub, kargs, ok := keysCommand(cmd, rest); ok {
		return keysMain(sub, kargs, f.provider)
	}
	if cmd != "" && secret.Contains(cmd) {
		fmt.Fprintln(stderr, "gonbchat: that argument looks like an API key; nothing was stored or sent. "+
			"A key on the command line stays in your shell's history (remove it from there); store keys with `gonbchat keys add` instead.")
		return 2
	}
	positional, err := parseAnywhere(fs, rest) // flags after the command
	if err != nil {
		return flagStatus(err)
	}
	switch cmd {
	case "", "chat", "newchat", "show":
		if len(positional) > 0 {
			fmt.Fprintf(stderr, "gonbchat %s: unexpected argument %q\n", cmd, positional[0])
			return 2
		}
	case "export":
		if len(positional) != 1 {
			fmt.Fprintln(stderr, "usage: gonbchat export FILE")
			return 2
		}
	default:
		fmt.Fprintf(stderr, "gonbchat: unknown command %q (gonbchat -h lists them)\n", cmd)
		return 2
	}
	dir, err := configDir()
	if err != nil {
		fmt.Fprintln(stderr, "gonbchat:", err)
		return 1
	}
	switch cmd {
	case "", "chat", "newchat":
		return runChat(&f, dir, cmd == "newchat")
	case "show":
		chat, _, status := openChat(&f, dir, false)
		if chat == nil {
			return status
		}
		if chat.ShowConversation() != nil {
			return 1
		}
	case "export":
		chat, _, status := openChat(&f, dir, false)
		if chat == nil {
			return status
		}
		if chat.ExportJSON(positional[0]) != nil {
			return 1
		}
	}
	return 0
}

// parseAnywhere parses flags that may come before, between or after the arguments, and returns
// the arguments ("--" ends the flags).
func parseAnywhere(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagStatus is the exit status for a flag parsing error: 0 for -h, else 2 (the flag package
// has said what was wrong).
func flagStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// configDir is gonbchat's directory in the user's config directory.
func configDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("cannot find your config directory (%v): set $XDG_CONFIG_HOME or $HOME", err)
	}
	return filepath.Join(dir, "gonbchat"), nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// dumbTerminal reports whether the terminal cannot take cursor movements (the line editor and
// the styled replies need them): display/term's rule, which its replies follow too.
func dumbTerminal() bool { return dterm.Dumb() }

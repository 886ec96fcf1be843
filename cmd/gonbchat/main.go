// Command gonbchat is a chat in the terminal that remembers the last conversation, like openai2's
// command-line chat.
//
//	gonbchat                 continue the last conversation (gonbchat chat does the same)
//	gonbchat newchat         start a new conversation
//	gonbchat show            show the conversation so far
//	gonbchat export FILE     write it as JSON (openai2's fetch_messages format)
//
// The key comes from OPENAI_API_KEY (or a .env file in the current directory); without one the
// offline mirror model answers. gonbchat never stores a key. The conversation is kept in
// $XDG_CONFIG_HOME/gonbchat (or ~/.config/gonbchat).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	_ "github.com/gonbchat/gonbchat/display/term" // Markdown rendered with glamour on a terminal
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gateway" { // the class gateway: gateway.go
		os.Exit(gatewayMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "serve" { // a persona bot's web page: serve.go
		os.Exit(serveMain(os.Args[2:]))
	}
	model := flag.String("model", "", "model (default "+chatcell.DefaultModel+", or the provider's)")
	provider := flag.String("provider", "", "groq, gemini, mistral, together, fireworks or openai (key from its usual variable)")
	completionsAPI := flag.Bool("completions", false, "use Chat Completions instead of the Responses API (implied by -provider other than openai)")
	system := flag.String("system", "", "system prompt for a new conversation")
	offline := flag.Bool("offline", false, "use the offline mirror model even with a key")
	name := flag.String("name", "cli", "conversation name (several can be kept)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: gonbchat [flags] [chat | newchat | show | export FILE]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	opts := []chatcell.HistOption{chatcell.WithName(*name), chatcell.WithStateDir(filepath.Join(dir, "gonbchat"))}
	if *provider != "" {
		opts = append(opts, chatcell.WithProvider(*provider))
		if p, ok := chatcell.Providers[*provider]; ok && p.ChatOnly {
			*completionsAPI = true
		}
	}
	if *completionsAPI {
		opts = append(opts, chatcell.WithBackend(completions.Backend{}))
	}
	if *model != "" {
		opts = append(opts, chatcell.WithModel(*model))
	}
	if *system != "" {
		opts = append(opts, chatcell.WithSystem(*system))
	}
	if *offline {
		opts = append(opts, chatcell.WithOffline())
	}
	chat := chatcell.NewHistList(opts...)

	switch cmd := flag.Arg(0); cmd {
	case "", "chat":
		if n := chat.History().Turns(); n > 0 {
			fmt.Printf("(continuing the conversation %q: %d turns; `gonbchat newchat` starts afresh)\n", *name, n)
		}
		chat.Loop()
	case "newchat":
		chat.Reset()
		chat.Loop()
	case "show":
		chat.ShowConversation()
	case "export":
		if flag.NArg() != 2 {
			flag.Usage()
			os.Exit(2)
		}
		if chat.ExportJSON(flag.Arg(1)) != nil {
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "gonbchat: unknown command %q\n", cmd)
		flag.Usage()
		os.Exit(2)
	}
	if chat.Err() != nil {
		os.Exit(1)
	}
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/gonbchat/gonbchat/persona"
	"github.com/gonbchat/gonbchat/webchat"
)

const serveUsage = `usage: gonbchat serve --persona FILE [flags]

Serves a persona bot (lesson 004) as a web page: each visitor has a conversation of their own.
The persona is a YAML or JSON file (title, character, description, examples). The key comes from
the provider's variable (GROQ_API_KEY…, OPENAI_API_KEY for openai); without it the offline mirror
model answers. Ctrl-C stops the page; replies in progress are kept, cut short.

`

// serveMain is "gonbchat serve ...": main dispatches os.Args[2:] here.
func serveMain(args []string) int {
	return serveCmd(args, os.Stderr)
}

func serveCmd(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gonbchat serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	personaFile := fs.String("persona", "", "the persona file (.yaml, .yml or .json)")
	provider := fs.String("provider", "", "groq, gemini, mistral, together, fireworks or openai (key from its usual variable)")
	model := fs.String("model", "", "model (default: the provider's; a persona file's model: line is not used)")
	addr := fs.String("addr", "127.0.0.1:7860", "address to listen on (host:port; port 0 picks a free one)")
	share := fs.Bool("share", false, "listen on every interface, at --addr's port, with a random access token in the printed URL")
	state := fs.String("state", "", "keep visitors' conversations in this directory (they survive a restart)")
	lang := fs.String("lang", "", "language of the page's words and error lines: zh-TW, zh-CN or en (default $GONBCHAT_LANG, else en)")
	offline := fs.Bool("offline", false, "use the offline mirror model even with a key")
	useCompletions := fs.Bool("completions", false, "use Chat Completions instead of the Responses API (for a server with only /chat/completions, such as many local ones; implied by -provider other than openai)")
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *personaFile == "" || fs.NArg() > 0 {
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "gonbchat serve: unexpected argument %q\n\n", fs.Arg(0))
		} else {
			fmt.Fprint(stderr, "gonbchat serve: --persona is required\n\n")
		}
		fs.Usage()
		return 2
	}
	p, err := persona.Load(*personaFile)
	if err != nil {
		fmt.Fprintln(stderr, "gonbchat serve:", err)
		return 1
	}

	var eopts []chatcell.CreateOption
	wopts := []webchat.Option{}
	if *provider != "" {
		eopts = append(eopts, chatcell.WithProvider(*provider))
	}
	if *model != "" {
		eopts = append(eopts, chatcell.WithModel(*model))
	}
	if *offline {
		eopts = append(eopts, chatcell.WithOffline())
	}
	if *useCompletions {
		eopts = append(eopts, chatcell.WithBackend(completions.Backend{}))
	} else if *provider == "" {
		// A server of one's own (OPENAI_BASE_URL) that has only Chat Completions answers the
		// Responses API with a 404: say which flag fixes it, in the visitor's bubble.
		hint := completionsHint(*lang)
		wopts = append(wopts, webchat.WithDescribe(func(err error) string {
			line := chatcell.Describe(err)
			// chatcell's own hint names the Go fix; on the page the flag is the fix.
			if goFix := "NewHistList(WithBackend(completions.Backend{}))"; strings.Contains(line, goFix) {
				return strings.Replace(line, goFix, "gonbchat serve --completions", 1)
			}
			var apiErr *chatcell.APIError
			if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound && apiErr.Code != "model_not_found" {
				line = strings.TrimRight(line, ".。 ") + hint
			}
			return line
		}))
	}
	if *lang != "" {
		eopts = append(eopts, chatcell.WithLanguage(*lang))
		wopts = append(wopts, webchat.WithLanguage(*lang))
	}
	if *state != "" {
		wopts = append(wopts, webchat.WithStateDir(*state))
	}
	listen := *addr
	if !*share && !loopback(listen) {
		fmt.Fprintf(stderr, "gonbchat serve: --addr %s listens beyond this machine, which shares the chat (and the API key's budget) with the network; "+
			"add --share to do so with an access token in the link, or listen on 127.0.0.1\n", listen)
		return 2
	}
	if *share {
		_, port, err := net.SplitHostPort(listen)
		if err != nil {
			fmt.Fprintf(stderr, "gonbchat serve: --addr %q: want host:port\n", listen)
			return 2
		}
		listen = ":" + port // every interface
		wopts = append(wopts, webchat.WithShareToken(webchat.NewToken()))
	}
	wopts = append(wopts, webchat.WithAddress(listen))
	if err := webchat.Launch(p, chatcell.NewEndpoint(eopts...), wopts...); err != nil {
		// Launch has said what went wrong.
		return 1
	}
	return 0
}

// loopback reports whether addr (host:port) listens on this machine only. What it cannot
// parse is left to the server, which says what is wrong with it.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "localhost" {
		return true
	}
	if host == "" {
		return false // every interface
	}
	ip := net.ParseIP(host)
	return ip == nil || ip.IsLoopback()
}

// completionsHint is added to a 404's line in the bot's bubble when the Responses API was used
// on a server of one's own.
func completionsHint(lang string) string {
	if lang == "" {
		lang = os.Getenv(webchat.EnvLanguage)
	}
	switch {
	case strings.HasPrefix(lang, "zh-TW"), strings.HasPrefix(lang, "zh-Hant"):
		return "。這個伺服器可能沒有 Responses API：改用 gonbchat serve --completions（Chat Completions）。"
	case strings.HasPrefix(lang, "zh"):
		return "。这个服务器可能没有 Responses API：改用 gonbchat serve --completions（Chat Completions）。"
	}
	return ". This server may have no Responses API: run gonbchat serve --completions (Chat Completions)."
}

// Command gonbchat is a chat in the terminal that remembers the last conversation, like openai2's
// command-line chat, and the class gateway.
//
//	gonbchat                 continue the last conversation (gonbchat chat does the same)
//	gonbchat newchat         start a new conversation
//	gonbchat show            show the conversation so far
//	gonbchat export FILE     write it as JSON (openai2's fetch_messages format)
//	gonbchat keys add        store an API key (hidden prompt; never on the command line)
//	gonbchat keys list       the keys gonbchat would use, by fingerprint, and where each came from
//	gonbchat keys clear      remove the stored keys
//	gonbchat serve --persona F   a persona bot's web chat page (lesson 004)
//	gonbchat gateway ...     the class gateway (gateway/README.md)
//
// The key comes from the environment (OPENAI_API_KEY, or the provider's variable with -provider;
// a .env file in the current directory counts as the environment), else from the keys stored
// with "gonbchat keys add" (several take turns); without one the offline mirror model answers.
// The conversation, the input history and the stored keys are kept in the user's config
// directory ($XDG_CONFIG_HOME/gonbchat or ~/.config/gonbchat on Linux); only the keys file
// (keys/keys.json, mode 0600) ever holds a key.
package main

import (
	"os"

	_ "github.com/gonbchat/gonbchat/display/term" // Markdown rendered with glamour on a terminal
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gateway" { // the class gateway: gateway.go
		os.Exit(gatewayMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "serve" { // a persona bot's web page: serve.go
		os.Exit(serveMain(os.Args[2:]))
	}
	os.Exit(cliMain(os.Args[1:])) // the chat and the keys: cli.go
}

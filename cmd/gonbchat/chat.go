package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/chatcell/completions"
	"github.com/gonbchat/gonbchat/display"
	"github.com/gonbchat/gonbchat/internal/keystore"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/keypool"
	"github.com/mattn/go-runewidth"
	"golang.org/x/term"
)

// keySetup is where the chat's key comes from: the environment, the stored keys (a pool), or
// nowhere (the offline model).
type keySetup struct {
	provider         string // "openai" or -provider's name
	envVar, envWhere string // the variable that gives the key, and where it is set
	stored           int    // stored keys for the provider
	pool             *keypool.Pool
}

// setupKeys decides the chat's key: the environment wins; else the stored keys of the provider
// take turns in a pool whose state (rotation, use counts) lives in the config directory.
func setupKeys(f *chatFlags, dir string) keySetup {
	ks := keySetup{provider: providerLabel(f.provider)}
	if f.offline {
		return ks
	}
	ks.envVar, ks.envWhere = envKey(f.provider, f.provider == "")
	entries, err := keyStore(dir).Load()
	if err != nil {
		note(fmt.Sprintf("gonbchat: ⚠ the stored keys are not used: %v", err))
		return ks
	}
	keys := keystore.Keys(entries, ks.provider)
	ks.stored = len(keys)
	if ks.envVar != "" || len(keys) == 0 {
		return ks
	}
	pool, err := keypool.New(keys, keypool.WithStateDir(poolDir(dir)), keypool.WithName("cli-"+ks.provider),
		keypool.WithNotify(func(e keypool.Event) {
			if line := poolNote(e); line != "" {
				note(dim("ⓘ " + line))
			}
		}))
	if err != nil {
		note(fmt.Sprintf("gonbchat: ⚠ the stored keys are not used: %v", err))
		return ks
	}
	pool.Reset() // a key set aside in an earlier run (rejected, or rate limited) gets another chance
	ks.pool = pool
	return ks
}

// poolNote is the line a pool event gets in the terminal ("" for none: an exhausted pool is the
// chat's error line). Keys are named by fingerprint (the event holds no key).
func poolNote(e keypool.Event) string {
	var line string
	switch e.Kind {
	case keypool.RateLimited:
		line = fmt.Sprintf("%s is rate limited (%s)", e.Key, e.Reason)
	case keypool.Rejected:
		line = fmt.Sprintf("%s was refused (%s): not used again in this run", e.Key, e.Reason)
	case keypool.Exhausted:
		return ""
	default:
		return e.String()
	}
	switch {
	case e.Next != "" && e.Wait > 0:
		line += fmt.Sprintf("; waiting %s for %s", e.Wait.Round(100*time.Millisecond), e.Next)
	case e.Next != "":
		line += "; going on with " + e.Next
	default:
		line += "; no usable key left"
	}
	return line
}

// openChat opens the conversation named by -name in dir, with the key setup when withKeys (show
// and export send nothing). On error it has said why and returns nil and the exit status.
func openChat(f *chatFlags, dir string, withKeys bool) (*chatcell.ChatWithHistList, keySetup, int) {
	opts := []chatcell.HistOption{chatcell.WithName(f.name), chatcell.WithStateDir(dir)}
	completionsAPI := f.completions
	if f.provider != "" {
		opts = append(opts, chatcell.WithProvider(f.provider))
		if p, ok := chatcell.Providers[f.provider]; ok && p.ChatOnly {
			completionsAPI = true
		}
	}
	if completionsAPI {
		opts = append(opts, chatcell.WithBackend(completions.Backend{}))
	}
	if f.model != "" {
		opts = append(opts, chatcell.WithModel(f.model))
	}
	if f.system != "" {
		opts = append(opts, chatcell.WithSystem(f.system))
	}
	if f.offline {
		opts = append(opts, chatcell.WithOffline())
	}
	if f.pace > 0 {
		opts = append(opts, chatcell.WithOfflinePace(f.pace))
	}
	if f.lang != "" {
		opts = append(opts, chatcell.WithLanguage(f.lang))
	}
	var ks keySetup
	if withKeys {
		ks = setupKeys(f, dir)
		if ks.pool != nil {
			opts = append(opts, chatcell.WithKeyPool(ks.pool))
		}
	}
	chat := chatcell.NewHistList(opts...)
	if err := chat.Err(); err != nil {
		note("gonbchat: " + chatcell.Describe(err))
		return nil, ks, 2
	}
	return chat, ks, 0
}

// runChat is "gonbchat [chat]" and "gonbchat newchat": the conversation in the terminal.
func runChat(f *chatFlags, dir string, fresh bool) int {
	chat, ks, status := openChat(f, dir, true)
	if chat == nil {
		return status
	}
	if fresh && chat.Reset() != nil {
		return 1
	}
	editor := isTerminal(os.Stdin) && isTerminal(os.Stdout) && !dumbTerminal()
	banner(chat, f, ks, fresh, editor)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	var in lineInput
	if editor {
		t, err := newTTYInput(historyFile(dir))
		if err != nil {
			fmt.Fprintln(stderr, "gonbchat: the line editor could not start:", err)
			return 1
		}
		in = t
	} else {
		in = newPlainInput(os.Stdin, sig)
	}
	defer in.Close()
	return converse(chat, in, sig)
}

// banner says which conversation goes on and where the replies come from.
func banner(chat *chatcell.ChatWithHistList, f *chatFlags, ks keySetup, fresh, editor bool) {
	if n := chat.Turns(); n > 0 && !fresh {
		note(fmt.Sprintf("(continuing the conversation %q: %d turn%s so far; `gonbchat newchat` starts afresh)", f.name, n, plural(n)))
	} else if fresh {
		note(fmt.Sprintf("(a new conversation %q)", f.name))
	}
	model := f.model
	if model == "" {
		model = chatcell.Providers[ks.provider].Model
	}
	var from string
	switch src := chat.Source(); {
	case src == chatcell.Replayed:
		from = "recorded answers (" + chatcell.EnvReplay + "), else the offline mirror model"
	case src == chatcell.Offline && f.offline:
		from = "the offline mirror model (-offline)"
	case src == chatcell.Offline:
		from = fmt.Sprintf("the offline mirror model: no key (set %s, or store one with `gonbchat keys add", chatcell.Providers[ks.provider].KeyEnv)
		if f.provider != "" {
			from += " -provider " + f.provider
		}
		from += "`)"
	case ks.envVar == chatcell.EnvGateway:
		from = "the class gateway (" + chatcell.EnvGateway + ")"
	case ks.envVar != "":
		from = fmt.Sprintf("%s %s, key from %s (%s)", ks.provider, model, ks.envVar, ks.envWhere)
		if ks.stored > 0 {
			from += fmt.Sprintf("; %d stored key%s not used while it is set", ks.stored, plural(ks.stored))
		}
	case ks.pool != nil:
		from = fmt.Sprintf("%s %s, %d stored key%s", ks.provider, model, ks.stored, plural(ks.stored))
		if ks.stored > 1 {
			from += " taking turns"
		}
	default:
		from = fmt.Sprintf("%s %s", ks.provider, model)
	}
	note("Replies from " + from + ".")
	if editor {
		note(dim("Enter sends · an empty line, Ctrl-D or Ctrl-C ends · Ctrl-C stops a reply · ↑↓ earlier inputs"))
	}
}

// note writes a line of the CLI's own to standard error, broken at spaces to fit the terminal.
func note(line string) { fmt.Fprintln(stderr, fit(line)) }

// fit breaks s at spaces so that no line is wider than standard error's terminal (if it is one).
func fit(s string) string {
	if !isTerminal(os.Stderr) {
		return s
	}
	width, _, err := term.GetSize(int(os.Stderr.Fd()))
	if err != nil || width < 20 {
		return s
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Split(para, " ") {
			switch {
			case line == "":
				line = word
			case runewidth.StringWidth(stripANSI(line+" "+word)) >= width:
				out = append(out, line)
				line = word
			default:
				line += " " + word
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// stripANSI drops the colour sequences dim adds, to measure what shows.
func stripANSI(s string) string { return strings.NewReplacer("\x1b[2m", "", "\x1b[0m", "").Replace(s) }

// dim greys a note line when standard error is a terminal.
func dim(s string) string {
	if isTerminal(os.Stderr) && !dumbTerminal() {
		return "\x1b[2m" + s + "\x1b[0m"
	}
	return s
}

// converse reads a line, streams the reply, and repeats, until an empty line or the end of
// input. It returns the exit status: 1 if the last request failed (but for an interrupt).
func converse(chat *chatcell.ChatWithHistList, in lineInput, sig chan os.Signal) int {
	status := 0
	for {
		line, err := in.ReadLine()
		if err != nil {
			if err != io.EOF {
				fmt.Fprintln(stderr, "gonbchat:", err)
				return 1
			}
			return status
		}
		msg := strings.TrimSpace(line)
		if msg == "" {
			return status
		}
		if secret.Contains(msg) {
			note("✖ That line looks like an API key: it was not sent, and not kept in the input history. " +
				"Store keys with `gonbchat keys add` (a hidden prompt).")
			continue
		}
		in.Remember(msg)
		status = ask(chat, msg, sig)
	}
}

// ask streams the reply to msg. SIGINT (Ctrl-C) while it streams stops it: what arrived is
// shown and kept in the conversation, marked as cut short, and the prompt comes back.
func ask(chat *chatcell.ChatWithHistList, msg string, sig chan os.Signal) int {
	for len(sig) > 0 {
		<-sig // a Ctrl-C from before this reply
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var interrupted atomic.Bool
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			interrupted.Store(true)
			cancel()
		case <-done:
		}
	}()
	// A terminal that cannot be drawn on (TERM=dumb) gets the plain text as it comes.
	var out interface {
		Write(string)
		Close(map[string]any)
	} = display.NewCell()
	if dumbTerminal() {
		out = plainOut{}
	}
	var err error
	var text strings.Builder
	for delta, e := range chat.Stream(ctx, msg) {
		if e != nil {
			err = e // the last value: the turn is already recorded
			continue
		}
		text.WriteString(delta)
		out.Write(delta)
	}
	close(done)
	out.Close(nil)
	switch {
	case err == nil:
		note(dim(usageLine(chat)))
		return 0
	case interrupted.Load():
		cut := chatcell.Describe(err)
		if text.Len() == 0 {
			fmt.Println()
			cut += " (nothing had arrived; ↑ brings the message back)"
		}
		note("⚠ " + cut)
		return 0
	}
	note("✖ " + chatcell.Describe(err))
	return 1
}

// usageLine is the note after a reply: its tokens, the conversation's, and the cost so far.
func usageLine(chat *chatcell.ChatWithHistList) string {
	u, t := chat.LastUsage(), chat.Usage()
	line := fmt.Sprintf("tokens: input %d · output %d · total %d  ·  this conversation: %d turn%s, %d tokens",
		u.InputTokens, u.OutputTokens, u.TotalTokens, chat.Turns(), plural(chat.Turns()), t.TotalTokens)
	if usd, known := chat.Cost(); known && chat.Source() == chatcell.Live {
		line += fmt.Sprintf("  ·  ≈ $%.6f so far", usd)
	}
	return line
}

// plainOut writes a reply as it comes, with no rendering.
type plainOut struct{}

func (plainOut) Write(d string) { fmt.Print(d) }
func (plainOut) Close(map[string]any) {
	fmt.Println()
}

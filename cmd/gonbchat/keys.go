package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/internal/keystore"
	"github.com/gonbchat/gonbchat/internal/secret"
	"github.com/gonbchat/gonbchat/keypool"
	"github.com/joho/godotenv"
	"golang.org/x/term"
)

const keysUsage = `usage: gonbchat keys add|list|clear [flags]

  add     store an API key: typed at a hidden prompt, or one per line on standard input
          (gonbchat keys add < file; lines like OPENAI_API_KEY=... from a .env file work too).
          A key is never taken as an argument.
  list    the keys gonbchat would use, by fingerprint, and where each came from
  clear   remove the stored keys (asks first when run in a terminal; -yes to skip)

Flags: -provider NAME (openai, groq, gemini, mistral, together, fireworks; add and clear),
       -yes (clear).
openai2's spellings: add_apikey, read_apikey, clear_apikey.
`

// keysCommand recognizes the keys commands, in gonbchat's spelling (keys add) and openai2's
// (add_apikey), and returns the subcommand and its arguments.
func keysCommand(cmd string, rest []string) (sub string, args []string, ok bool) {
	switch cmd {
	case "keys", "key":
		if len(rest) == 0 {
			return "", nil, true
		}
		return rest[0], rest[1:], true
	case "add_apikey", "add-apikey", "add_key":
		return "add", rest, true
	case "read_apikey", "read-apikey", "list_apikey":
		return "list", rest, true
	case "clear_apikey", "clear-apikey":
		return "clear", rest, true
	}
	return "", nil, false
}

// keysMain runs "gonbchat keys SUB ARGS"; provider is -provider given before the command.
func keysMain(sub string, args []string, provider string) int {
	fs := flag.NewFlagSet("gonbchat keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keysUsage) }
	fs.StringVar(&provider, "provider", provider, "the provider the keys are for (default openai)")
	yes := false
	if sub == "clear" || sub == "rm" {
		fs.BoolVar(&yes, "yes", false, "remove without asking")
	}
	switch sub {
	case "add", "list", "ls", "read", "clear", "rm":
	case "", "help", "-h", "--help", "-help":
		fmt.Fprint(stderr, keysUsage)
		return map[bool]int{true: 0, false: 2}[sub != ""]
	default:
		fmt.Fprintf(stderr, "gonbchat keys: unknown command %q\n\n%s", sub, keysUsage)
		return 2
	}
	positional, err := parseAnywhere(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(positional) > 0 {
		if sub == "add" {
			fmt.Fprintln(stderr, "gonbchat keys add: nothing was stored. A key is never taken from the command line: "+
				"it would stay in your shell's history and show in the process list. Run `gonbchat keys add` and paste "+
				"the key at the hidden prompt, or pipe it in (`gonbchat keys add < file`). If that was a real key, "+
				"remove it from your shell's history.")
		} else {
			fmt.Fprintf(stderr, "gonbchat keys %s takes no arguments\n", sub)
		}
		return 2
	}
	if provider != "" {
		if _, ok := chatcell.Providers[provider]; !ok {
			fmt.Fprintf(stderr, "gonbchat keys: unknown provider %q (known: %s)\n", provider, providerList())
			return 2
		}
	}
	dir, err := configDir()
	if err != nil {
		fmt.Fprintln(stderr, "gonbchat keys:", err)
		return 1
	}
	store := keyStore(dir)
	switch sub {
	case "add":
		err = keysAdd(store, provider)
	case "list", "ls", "read":
		err = keysList(store, dir, os.Stdout)
	default:
		err = keysClear(store, dir, provider, yes)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gonbchat keys %s: %v\n", sub, err)
		return 1
	}
	return 0
}

// keyStore is the store of the CLI's keys in gonbchat's config directory.
func keyStore(dir string) *keystore.Store {
	s := keystore.New(filepath.Join(dir, "keys"))
	s.Warn = func(w string) { fmt.Fprintln(stderr, "gonbchat: ⚠", w) }
	return s
}

// poolDir holds the CLI's key pools' state: rotation, cooldowns and use counts, by fingerprint.
func poolDir(dir string) string { return filepath.Join(dir, "keys", "pool") }

func providerList() string {
	var names []string
	for n := range chatcell.Providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// providerLabel is how the CLI names a provider.
func providerLabel(name string) string {
	if name == "" {
		return "openai"
	}
	return name
}

// keysAdd reads keys (a hidden prompt on a terminal, else standard input) and stores them.
func keysAdd(store *keystore.Store, provider string) error {
	var data []byte
	via := keystore.ViaStdin
	if isTerminal(os.Stdin) {
		via = keystore.ViaPrompt
		line, err := readHidden(fmt.Sprintf("API key for %s (input hidden; Enter when done): ", providerLabel(provider)))
		if err != nil {
			return err
		}
		data = line
	} else {
		var err error
		data, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<16+1))
		if err != nil {
			return fmt.Errorf("reading standard input: %v", err)
		}
		if len(data) > 1<<16 {
			return errors.New("standard input holds more than 64 KiB: that is not a list of keys; nothing was stored")
		}
	}
	entries, notes, err := parseKeys(data, provider, via)
	for _, n := range notes {
		fmt.Fprintln(stderr, "gonbchat keys add:", n)
	}
	if err != nil {
		return fmt.Errorf("%v; nothing was stored", err)
	}
	if len(entries) == 0 {
		return errors.New("no key was given; nothing was stored")
	}
	added, err := store.Add(entries...)
	if err != nil {
		return err
	}
	all, err := store.Load()
	if err != nil {
		return err
	}
	out := redacting{os.Stdout}
	for _, e := range entries {
		if slices.ContainsFunc(added, func(a keystore.Entry) bool { return a.Provider == e.Provider && a.Key == strings.TrimSpace(e.Key) }) {
			fmt.Fprintf(out, "Stored %s for %s (from the %s).\n", e.Fingerprint(), e.Provider, e.Via)
		} else {
			fmt.Fprintf(out, "%s for %s was already stored.\n", e.Fingerprint(), e.Provider)
		}
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Provider] {
			continue
		}
		seen[e.Provider] = true
		n := len(keystore.Keys(all, e.Provider))
		line := fmt.Sprintf("%s: %d stored key%s", e.Provider, n, plural(n))
		if n > 1 {
			line += ", taking turns"
		}
		if v, where := envKey(e.Provider, e.Provider == "openai"); v != "" {
			line += fmt.Sprintf(" (not used while %s is set in the %s: the environment wins)", v, where)
		}
		fmt.Fprintln(out, line+".")
	}
	fmt.Fprintf(out, "Keys file: %s (readable by you only).\n", store.Path())
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// readHidden asks for a line without echoing it. Ctrl-C restores the terminal before exiting.
func readHidden(prompt string) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	done := make(chan struct{})
	defer func() { signal.Stop(sig); close(done) }()
	go func() {
		select {
		case <-sig:
			term.Restore(fd, state)
			fmt.Fprintln(stderr, "\ngonbchat keys add: cancelled; nothing was stored.")
			os.Exit(130)
		case <-done:
		}
	}()
	fmt.Fprint(stderr, prompt)
	line, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return nil, fmt.Errorf("reading the key: %v", err)
	}
	return line, nil
}

// assignment is a line of a .env file or a shell script: NAME=value, maybe after "export".
var assignment = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$`)

// parseKeys reads one key per line (blank lines and # comments skipped; NAME=value lines of a
// .env file give the value, and the provider when NAME is a provider's key variable). The
// provider is -provider's, else the variable's, else the one the key's shape says (gsk_ for
// Groq, AIza for Gemini, fw_ for Fireworks), else openai. Errors and notes never hold a key.
func parseKeys(data []byte, provider, via string) (entries []keystore.Entry, notes []string, err error) {
	now := time.Now().UTC().Truncate(time.Second)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<16)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := ""
		if via == keystore.ViaStdin {
			where = fmt.Sprintf("line %d: ", n)
		}
		value, p := line, provider
		if m := assignment.FindStringSubmatch(line); m != nil {
			byVar := providerOfVar(m[1])
			if byVar == "" {
				notes = append(notes, fmt.Sprintf("%s%s is not an API key variable: skipped", where, m[1]))
				continue
			}
			if p != "" && p != byVar {
				return nil, notes, fmt.Errorf("%s%s is a %s key, but -provider is %s", where, m[1], byVar, p)
			}
			value, p = m[2], byVar
			if i := strings.Index(value, " #"); i >= 0 && !strings.HasPrefix(value, `"`) && !strings.HasPrefix(value, "'") {
				value = value[:i] // a comment after an unquoted value
			}
		}
		value = unquote(strings.TrimSpace(value))
		if err := keystore.Check(value); err != nil {
			return nil, notes, fmt.Errorf("%s%v", where, err)
		}
		if p == "" {
			p = providerOfShape(value)
			if p != "openai" {
				notes = append(notes, fmt.Sprintf("%s%s looks like a %s key: stored for %s (-provider to choose)", where, secret.Fingerprint(value), p, p))
			}
		}
		entries = append(entries, keystore.Entry{Provider: p, Key: value, Added: now, Via: via})
	}
	if err := sc.Err(); err != nil {
		return nil, notes, errors.New("a line is too long to be a key")
	}
	return entries, notes, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// providerOfVar is the provider whose key variable is name ("" if none).
func providerOfVar(name string) string {
	for n, p := range chatcell.Providers {
		if p.KeyEnv == name {
			return n
		}
	}
	return ""
}

// providerOfShape guesses a key's provider from its prefix; openai unless the prefix is one
// only another provider uses.
func providerOfShape(key string) string {
	switch {
	case strings.HasPrefix(key, "gsk_"):
		return "groq"
	case strings.HasPrefix(key, "AIza"):
		return "gemini"
	case strings.HasPrefix(key, "fw_"):
		return "fireworks"
	}
	return "openai"
}

var dotenv = func() map[string]string {
	vars, err := godotenv.Read()
	if err != nil {
		return nil
	}
	return vars
}

// getenv returns a variable's value and where it is set: in the environment, or in the .env
// file of the current directory (which chatcell reads into the environment).
func getenv(name string) (value, where string) {
	if v := os.Getenv(name); v != "" {
		return v, "environment"
	}
	if v := dotenv()[name]; v != "" {
		return v, ".env file in the current directory"
	}
	return "", ""
}

// envKey says which environment variable gives provider's key, and where it is set; "" if none
// does. With gateway (no -provider), a class gateway (GONBCHAT_GATEWAY_URL, without
// OPENAI_BASE_URL) counts first, as chatcell sends the chat there.
func envKey(provider string, gateway bool) (variable, where string) {
	p, ok := chatcell.Providers[providerLabel(provider)]
	if !ok {
		return "", ""
	}
	if gateway {
		if _, w := getenv(chatcell.EnvGateway); w != "" {
			if base, _ := getenv("OPENAI_BASE_URL"); base == "" {
				return chatcell.EnvGateway, w
			}
		}
	}
	if _, w := getenv(p.KeyEnv); w != "" {
		return p.KeyEnv, w
	}
	return "", ""
}

// providersInOrder lists the providers, openai first.
func providersInOrder() []string {
	names := []string{"openai"}
	for _, n := range strings.Split(providerList(), ", ") {
		if n != "openai" {
			names = append(names, n)
		}
	}
	return names
}

// keysList shows the keys gonbchat would use, by fingerprint, and where each came from.
func keysList(store *keystore.Store, dir string, w io.Writer) error {
	w = redacting{w}
	entries, err := store.Load()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var rows []string
	for _, name := range providersInOrder() {
		v := chatcell.Providers[name].KeyEnv
		if val, where := getenv(v); val != "" {
			rows = append(rows, fmt.Sprintf("  %s\t%s\t%s\t%s\n", name, secret.Fingerprint(val), v, where))
		}
	}
	if _, where := getenv(chatcell.EnvGateway); where != "" {
		rows = append(rows, fmt.Sprintf("  openai\t(class gateway)\t%s\t%s\n", chatcell.EnvGateway, where))
	}
	envShown := len(rows) > 0
	if envShown {
		fmt.Fprintln(tw, "From the environment (these win over stored keys):")
	}
	for _, r := range rows {
		fmt.Fprint(tw, r)
	}
	tw.Flush()
	if len(entries) == 0 {
		if envShown {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "No stored keys. Store one with `gonbchat keys add` (a hidden prompt).\n")
		return nil
	}
	if envShown {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Stored in %s:\n", store.Path())
	status := map[string]keypool.KeyStatus{}
	for _, name := range providersInOrder() {
		keys := keystore.Keys(entries, name)
		if len(keys) == 0 {
			continue
		}
		if pool, err := keypool.New(keys, keypool.WithStateDir(poolDir(dir)), keypool.WithName("cli-"+name)); err == nil {
			for _, st := range pool.Status() {
				status[name+" "+st.Fingerprint] = st
			}
		}
	}
	fmt.Fprintln(tw, "  PROVIDER\tKEY\tADDED\tFROM\tSTATE")
	for _, e := range entries {
		state := "in use"
		if v, where := envKey(e.Provider, e.Provider == "openai"); v != "" {
			state = fmt.Sprintf("not used: %s is set (%s)", v, where)
		} else if st, ok := status[e.Provider+" "+e.Fingerprint()]; ok {
			state = fmt.Sprintf("%s, %d request%s", st.State, st.Uses, plural(int(st.Uses)))
			if st.Reason != "" {
				state += " (" + st.Reason + ")"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Provider, e.Fingerprint(), e.Added.Local().Format("2006-01-02 15:04"), e.Via, state)
	}
	return tw.Flush()
}

// keysClear removes the stored keys of provider (all with ""), after asking on a terminal.
func keysClear(store *keystore.Store, dir, provider string, yes bool) error {
	entries, err := store.Load()
	if err != nil {
		return err
	}
	n := len(entries)
	what := "every stored key"
	if provider != "" {
		n = len(keystore.Keys(entries, provider))
		what = "the stored " + provider + " keys"
	}
	if n == 0 {
		fmt.Println("No stored keys to remove.")
		return nil
	}
	if !yes {
		if !isTerminal(os.Stdin) {
			return fmt.Errorf("nothing was removed: add -yes to remove %s without a terminal to confirm", what)
		}
		fmt.Fprintf(stderr, "Remove %s (%d) from %s? [y/N] ", what, n, store.Path())
		answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			fmt.Println("Nothing was removed.")
			return nil
		}
	}
	removed, err := store.Clear(provider)
	if err != nil {
		return err
	}
	if provider == "" {
		os.RemoveAll(poolDir(dir)) // the pools' state: fingerprints and counters only
	}
	fmt.Printf("Removed %d stored key%s.\n", removed, plural(removed))
	return nil
}

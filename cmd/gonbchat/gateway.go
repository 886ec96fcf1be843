package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gonbchat/gonbchat/keypool"

	"github.com/gonbchat/gonbchat/gateway"
	"github.com/gonbchat/gonbchat/gateway/ledger"
	"github.com/gonbchat/gonbchat/gateway/policy"
	"github.com/gonbchat/gonbchat/internal/secret"
)

const gatewayUsage = `usage: gonbchat gateway COMMAND [flags]

The class gateway: students' notebooks talk to it, it talks to the model provider with the
teacher's keys, under the class policy, and records every request. See gateway/README.md.

  serve                 run the gateway (as a JupyterHub service, or on its own)
  token add NAME...     issue a token to each student (printed once; stored hashed)
  token list            list the students holding a token
  token revoke NAME     revoke a student's token
  report                usage per student, and per day (-days N, default 7)
  policy example        print a commented policy file to start from
  policy check FILE     check a policy file and say what it does

Every command takes -db FILE (default $GONBCHAT_GATEWAY_DB, or gonbchat-gateway.db).
Run "gonbchat gateway COMMAND -h" for a command's flags.
`

// gatewayMain is "gonbchat gateway ...": main dispatches os.Args[2:] here.
func gatewayMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return gatewayCmd(ctx, args, os.Stdout, os.Stderr)
}

// gatewayCmd runs a gateway command; ctx ending is the signal to shut down (serve).
func gatewayCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		fmt.Fprint(stderr, gatewayUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "serve":
		err = gatewayServe(ctx, args[1:], stderr)
	case "token":
		err = gatewayToken(ctx, args[1:], stdout, stderr)
	case "report":
		err = gatewayReport(ctx, args[1:], stdout, stderr)
	case "policy":
		err = gatewayPolicy(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "gonbchat gateway: unknown command %q\n\n%s", args[0], gatewayUsage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gonbchat gateway: %v\n", err)
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "gonbchat gateway: %s\n", secret.Redact(err.Error()))
	return 1
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", envOr("GONBCHAT_GATEWAY_DB", "gonbchat-gateway.db"), "the gateway's database ($GONBCHAT_GATEWAY_DB)")
}

// defaultListen is where a Hub-managed service must listen (JUPYTERHUB_SERVICE_URL), or a
// local port.
func defaultListen() string {
	if u, err := url.Parse(os.Getenv("JUPYTERHUB_SERVICE_URL")); err == nil && u.Host != "" {
		return u.Host
	}
	return "127.0.0.1:8765"
}

func gatewayServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gonbchat gateway serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := dbFlag(fs)
	listen := fs.String("listen", defaultListen(), "address to listen on ($JUPYTERHUB_SERVICE_URL's, as a Hub service)")
	policyPath := fs.String("policy", envOr("GONBCHAT_GATEWAY_POLICY", "policy.yaml"), "the class policy file ($GONBCHAT_GATEWAY_POLICY)")
	upstream := fs.String("upstream", envOr("GONBCHAT_UPSTREAM_URL", envOr("OPENAI_BASE_URL", "https://api.openai.com/v1")),
		"the provider's API base URL ($GONBCHAT_UPSTREAM_URL, else $OPENAI_BASE_URL)")
	keysFile := fs.String("keys-file", os.Getenv("GONBCHAT_UPSTREAM_KEYS_FILE"),
		"file of provider keys, one a line ($GONBCHAT_UPSTREAM_KEYS_FILE); default: $GONBCHAT_UPSTREAM_KEYS (comma-separated), else $OPENAI_API_KEY")
	hubAPI := fs.String("hub-api", os.Getenv("JUPYTERHUB_API_URL"), "JupyterHub's API URL, to accept students' JUPYTERHUB_API_TOKEN ($JUPYTERHUB_API_URL)")
	prefix := fs.String("prefix", os.Getenv("JUPYTERHUB_SERVICE_PREFIX"), "path prefix to serve under ($JUPYTERHUB_SERVICE_PREFIX)")
	adminFile := fs.String("admin-token-file", "", "file holding the token of the teacher's page /admin/ (default $GONBCHAT_ADMIN_TOKEN; none: no page)")
	every := fs.Duration("reload-every", 2*time.Second, "how often the policy file is checked for changes (SIGHUP reloads at once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"serve takes no arguments"}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	keys, err := upstreamKeys(*keysFile)
	if err != nil {
		return err
	}
	secret.Register(keys...)
	rt, err := upstreamTransport(keys)
	if err != nil {
		return err
	}
	admin := os.Getenv("GONBCHAT_ADMIN_TOKEN")
	if *adminFile != "" {
		b, err := os.ReadFile(*adminFile)
		if err != nil {
			return err
		}
		admin = strings.TrimSpace(string(b))
	}
	if admin != "" && len(admin) < 16 {
		return errors.New("the admin token must be at least 16 characters")
	}
	secret.Register(admin)

	if _, err := os.Stat(*policyPath); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no policy file %s: start from the example with\n  gonbchat gateway policy example > %s", *policyPath, *policyPath)
	}
	watcher, err := policy.NewWatcher(*policyPath, func(p *policy.Policy, err error) {
		if err != nil {
			log.Error("policy not reloaded", "err", err)
			return
		}
		log.Info("policy reloaded", "policy", strings.Join(p.Summary(), "; "))
	})
	if err != nil {
		return err
	}
	for _, w := range watcher.Current().Summary() {
		if strings.HasPrefix(w, "WARNING") {
			log.Warn(w)
		}
	}
	l, err := ledger.Open(*db)
	if err != nil {
		return err
	}
	defer l.Close()
	gw, err := gateway.New(gateway.Config{
		Upstream: rt, UpstreamURL: *upstream, Ledger: l, Policy: watcher,
		HubAPI: *hubAPI, AdminToken: admin, Prefix: *prefix, Logger: log,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 30 * time.Second}
	wctx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go watcher.Run(wctx, *every)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if changed, err := watcher.Reload(); err == nil && !changed {
				log.Info("SIGHUP: the policy file is unchanged")
			}
		}
	}()

	auth := "issued tokens"
	if *hubAPI != "" {
		auth = "JupyterHub tokens (" + *hubAPI + ") and issued tokens"
	}
	log.Info("gateway serving", "addr", "http://"+ln.Addr().String()+strings.TrimSuffix(*prefix, "/")+"/v1",
		"upstream", *upstream, "keys", len(keys), "auth", auth, "policy", *policyPath, "db", *db, "admin_page", admin != "")

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing the replies in flight (up to 60s)")
	sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gwDone := make(chan error, 1)
	go func() { gwDone <- gw.Shutdown(sctx) }()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-gwDone; err != nil {
		log.Warn("some replies were cut; they are recorded as interrupted")
	}
	log.Info("gateway stopped; every request is in the ledger")
	return nil
}

// upstreamKeys reads the provider keys: from a file (one a line, # comments), else
// $GONBCHAT_UPSTREAM_KEYS (comma-separated), else $OPENAI_API_KEY.
func upstreamKeys(file string) ([]string, error) {
	var keys []string
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k := strings.TrimSpace(sc.Text()); k != "" && !strings.HasPrefix(k, "#") {
				keys = append(keys, k)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s holds no key", file)
		}
		return keys, nil
	}
	for _, k := range strings.Split(os.Getenv("GONBCHAT_UPSTREAM_KEYS"), ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		if k := strings.TrimSpace(os.Getenv("OPENAI_API_KEY")); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no provider key: give -keys-file, or set GONBCHAT_UPSTREAM_KEYS or OPENAI_API_KEY")
	}
	return keys, nil
}

// upstreamTransport turns the teacher's provider keys into the gateway's upstream transport: a
// key pool, so that requests rotate over the keys and fail over when one is rate limited or
// rejected. The gateway is one long-lived process, so the pool's state stays in memory.
func upstreamTransport(keys []string) (http.RoundTripper, error) {
	pool, err := keypool.New(keys, keypool.WithName("gateway"))
	if err != nil {
		return nil, err
	}
	return pool.Transport(upstreamBase()), nil
}

// upstreamBase is the HTTP transport under the key handling: a class streams many replies at
// once to one host, so it keeps more idle connections than http.DefaultTransport's two.
func upstreamBase() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	return t
}

func gatewayToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"token add NAME... | token list | token revoke NAME"}
	}
	fs := flag.NewFlagSet("gonbchat gateway token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := dbFlag(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	l, err := ledger.Open(*db)
	if err != nil {
		return err
	}
	defer l.Close()
	switch args[0] {
	case "add":
		if fs.NArg() == 0 {
			return usageError{"token add needs at least one student name"}
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, name := range fs.Args() {
			tok, err := l.AddToken(ctx, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%s\n", name, tok)
		}
		w.Flush()
		fmt.Fprintln(stderr, "(each token is shown this once: hand it to its student, who sets GONBCHAT_GATEWAY_TOKEN to it)")
	case "list":
		toks, err := l.Tokens(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "student\tissued")
		for _, t := range toks {
			fmt.Fprintf(w, "%s\t%s\n", t.Name, t.Created.Format("2006-01-02 15:04"))
		}
		w.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return usageError{"token revoke needs one student name"}
		}
		ok, err := l.RevokeToken(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s holds no token", fs.Arg(0))
		}
		fmt.Fprintf(stdout, "revoked the token of %s\n", fs.Arg(0))
	default:
		return usageError{fmt.Sprintf("unknown token command %q (add, list, revoke)", args[0])}
	}
	return nil
}

func gatewayReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gonbchat gateway report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := dbFlag(fs)
	days := fs.Int("days", 7, "how many days back (today included)")
	policyPath := fs.String("policy", envOr("GONBCHAT_GATEWAY_POLICY", "policy.yaml"), "the policy file, for its time zone, reset time and prices (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *days < 1 {
		return usageError{"-days must be at least 1"}
	}
	p := &policy.Policy{}
	if _, err := os.Stat(*policyPath); err == nil {
		if p, err = policy.Load(*policyPath); err != nil {
			return err
		}
		p.ApplyPrices()
	}
	l, err := ledger.Open(*db)
	if err != nil {
		return err
	}
	defer l.Close()
	start, _ := p.Period("day", time.Now())
	since := start.AddDate(0, 0, -(*days - 1))
	per, err := l.PerStudent(ctx, since)
	if err != nil {
		return err
	}
	byDay, err := l.PerDay(ctx, since, p.Location())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Usage since %s (%s), %d day(s); costs are estimates from list prices.\n\n", since.Format("2006-01-02 15:04"), p.Location(), *days)
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "student\trequests\trefused\tinput tokens\toutput tokens\tcost USD\t")
	var total ledger.Usage
	for _, u := range per {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.4f\t\n", u.Student, u.Requests, u.Refused, u.InputTokens, u.OutputTokens, u.CostUSD)
		total.Requests += u.Requests
		total.Refused += u.Refused
		total.InputTokens += u.InputTokens
		total.OutputTokens += u.OutputTokens
		total.CostUSD += u.CostUSD
	}
	fmt.Fprintf(w, "all\t%d\t%d\t%d\t%d\t%.4f\t\n", total.Requests, total.Refused, total.InputTokens, total.OutputTokens, total.CostUSD)
	w.Flush()
	fmt.Fprintln(stdout, "\nPer day:")
	w = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "day\tstudent\trequests\ttokens\tcost USD\t")
	for _, u := range byDay {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%.4f\t\n", u.Day, u.Student, u.Requests, u.Tokens(), u.CostUSD)
	}
	w.Flush()
	return nil
}

func gatewayPolicy(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"policy example | policy check FILE"}
	}
	switch args[0] {
	case "example":
		fmt.Fprint(stdout, policy.Example)
		return nil
	case "check":
		if len(args) != 2 {
			return usageError{"policy check needs one file"}
		}
		p, err := policy.Load(args[1])
		if err != nil {
			return err
		}
		p.ApplyPrices()
		fmt.Fprintf(stdout, "%s is valid:\n", args[1])
		for _, s := range p.Summary() {
			fmt.Fprintln(stdout, "  "+s)
		}
		return nil
	}
	return usageError{fmt.Sprintf("unknown policy command %q (example, check)", args[0])}
}

//go:build gonbchat_kernel

// Command cell is a GoNB cell program in kernel mode for the helper's tests: each argument group
// is an action on chatcell or display, run in order.
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/gonbchat/gonbchat/chatcell"
	"github.com/gonbchat/gonbchat/display"
)

var pipe *os.File // kept open, as gonbui keeps it

func main() {
	args := os.Args[1:]
	next := func() string {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "missing argument")
			os.Exit(2)
		}
		a := args[0]
		args = args[1:]
		return a
	}
	for len(args) > 0 {
		switch a := next(); a {
		case "ask":
			c := chatcell.New(chatcell.WithName(next()))
			c.Ask(next())
			fmt.Println("turns", c.Turns())
		case "slowhist":
			h := chatcell.NewHistList(chatcell.WithName(next()), chatcell.WithOfflinePace(150*time.Millisecond))
			msg := next()
			fmt.Println("asking")
			h.Ask(msg)
			fmt.Println("done")
		case "histmsgs":
			for _, m := range chatcell.NewHistList(chatcell.WithName(next())).Messages() {
				fmt.Printf("%s partial=%v\n", m.Role, m.Partial)
			}
		case "loadmissing":
			err := chatcell.New(chatcell.WithName("x"), chatcell.WithQuiet()).Load("no-such-file")
			fmt.Printf("notexist=%v line=%v\n", errors.Is(err, fs.ErrNotExist), err)
		case "apierr":
			_, err := chatcell.CreateContext(context.Background(), "hi", chatcell.WithBaseURL(next()), chatcell.WithAPIKey("sk-wrongkey-0123456789abcdefghij"))
			var apiErr *chatcell.APIError
			var e *chatcell.Error
			if errors.As(err, &apiErr) {
				fmt.Printf("api status=%d code=%s\n", apiErr.StatusCode, apiErr.Code)
			}
			fmt.Printf("chatcell.Error=%v line=%v\n", errors.As(err, &e), err)
		case "info":
			display.Info(next())
		case "cell":
			c := display.NewCell()
			c.Write("**hi**")
			c.Write(" there")
			c.Close(map[string]any{"k": 1})
		case "loop":
			chatcell.New(chatcell.WithName(next())).Loop()
		case "openpipe":
			f, err := os.OpenFile(os.Getenv("GONB_PIPE"), os.O_WRONLY, 0)
			if err != nil {
				fmt.Println("openpipe:", err)
			}
			pipe = f
		case "stream":
			c := chatcell.New(chatcell.WithName(next()))
			n := 0
			for _, err := range c.Stream(context.Background(), next()) {
				if err != nil {
					fmt.Println("stream error:", err)
					break
				}
				if n++; n == 2 {
					break
				}
			}
			fmt.Println("deltas", n, "turns", c.Turns())
		case "reqopts":
			c := chatcell.New(chatcell.WithName("r"), chatcell.WithRequestOptions("x"))
			fmt.Println("err:", c.Err())
		case "describe":
			fmt.Println("describe:", chatcell.Describe(errors.New(next())))
		case "askall":
			a, b := chatcell.New(chatcell.WithName(next())), chatcell.NewHistList(chatcell.WithName(next()))
			replies := chatcell.AskAll(chatcell.Ask(a, next()), chatcell.Ask(b, next()), chatcell.Ask(nil, "nobody"))
			fmt.Printf("replies %d\n", len(replies))
			for i, r := range replies {
				fmt.Printf("reply %d: %s\n", i, r)
			}
			fmt.Println("turns", a.Turns(), b.Turns())
		case "go":
			c := chatcell.NewHistList(chatcell.WithName(next()))
			p1 := c.Go(context.Background(), next())
			p2 := c.Go(context.Background(), next())
			t2, err2 := p2.Wait()
			t1, err1 := p1.Wait()
			<-p1.Done()
			fmt.Printf("go 1: %v %s\ngo 2: %v %s\n", err1, t1, err2, t2)
			for _, m := range c.Messages() {
				fmt.Printf("%s: %s\n", m.Role, m.Content)
			}
		case "gocancel":
			c := chatcell.NewHistList(chatcell.WithName(next()), chatcell.WithOfflinePace(150*time.Millisecond))
			p := c.Go(context.Background(), next())
			time.Sleep(600 * time.Millisecond)
			p.Cancel()
			text, err := p.Wait()
			fmt.Printf("cancelled: err=%v partial=%v\n", err != nil, text != "")
			for _, m := range c.Messages() {
				fmt.Printf("%s partial=%v\n", m.Role, m.Partial)
			}
		case "group":
			g := chatcell.NewGroupChat(chatcell.WithName(next()))
			if err := g.SetRole("苏轼", "a poet"); err != nil {
				fmt.Println("setrole:", err)
			}
			g.SetRole("佛印", "a monk")
			rs := g.Ask(chatcell.Says("苏轼", "佛印"))
			fmt.Printf("remarks %d roles %d turns %d\n", len(rs), len(g.Roles()), g.Turns())
			for _, r := range rs {
				fmt.Printf("remark %s -> %v\n", r.Speaker, r.Audiences)
			}
		case "sleep":
			ms, _ := strconv.Atoi(next())
			time.Sleep(time.Duration(ms) * time.Millisecond)
		default:
			fmt.Fprintln(os.Stderr, "unknown action", a)
			os.Exit(2)
		}
	}
}

package webchat_test

import (
	"context"
	"fmt"
	"iter"
	"log"
	"os"
	"os/signal"

	"github.com/gonbchat/gonbchat/llm"
	"github.com/gonbchat/gonbchat/persona"
	"github.com/gonbchat/gonbchat/webchat"
)

// An echo model stands in for a real one (which holds the provider and the API key).
func echo(ctx context.Context, msgs []llm.Message) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		yield("完全是 Lucky Vicky 呀! 你說：「"+msgs[len(msgs)-1].Content+"」", nil)
	}
}

func ExampleServer_Start() {
	p, err := persona.Load("../persona/testdata/lucky_vicky.yaml")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := webchat.New(p, webchat.ModelFunc(echo), webchat.WithStateDir(os.TempDir()+"/lucky-vicky"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	url, err := srv.Start(ctx, "") // 127.0.0.1, a free port
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("open", url)
	<-ctx.Done() // serve until interrupted (in a notebook: until the cell is stopped)
}

func ExampleWithShareToken() {
	p, _ := persona.Load("../persona/testdata/lucky_vicky.yaml")
	srv, err := webchat.New(p, webchat.ModelFunc(echo), webchat.WithShareToken(webchat.NewToken()))
	if err != nil {
		log.Fatal(err)
	}
	// Every interface: the whole classroom can open srv.URL(), which carries the token.
	log.Fatal(srv.ListenAndServe(context.Background(), ":7860"))
}

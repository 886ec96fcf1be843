// Command responses walks through textbook chapter 3 in a terminal: chaining turns with
// previous_response_id, store=false, a Chat that remembers, saving the last id, showing and
// deleting the thread, and a chat whose history we keep.
//
//	go run ./examples/responses            # offline mirror model, no key needed
//	OPENAI_API_KEY=sk-... go run ./examples/responses
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gonbchat/gonbchat/chatcell"
	_ "github.com/gonbchat/gonbchat/display/term" // Markdown rendered with glamour on a terminal
)

func main() {
	ctx := context.Background()
	section("3-2 chaining with previous_response_id")
	first := chatcell.Create("你知道什麼是流冰嗎？")
	chatcell.Create("哪裡看得到？") // not chained: the model has no idea what "there" means
	chatcell.Create("哪裡看得到？", chatcell.WithPreviousResponseID(first.ID))

	section("store=false cannot be chained")
	unstored := chatcell.Create("你知道什麼是流冰嗎？", chatcell.WithStore(false))
	chatcell.Create("哪裡看得到？", chatcell.WithPreviousResponseID(unstored.ID))

	section("3-3/3-4 a Chat that remembers, saved and loaded")
	chat1 := chatcell.New(chatcell.WithName("chat1"))
	chat1.Ask("你知道什麼是流冰嗎？")
	chat1.Ask("哪裡看得到？")
	file := filepath.Join(os.TempDir(), "gonbchat-last_id")
	chat1.Save(file)
	chat2 := chatcell.New(chatcell.WithName("chat2"))
	chat2.Load(file)
	chat2.Ask("最好的季節是什麼時候？")

	section("the whole thread, then deleted")
	msgs, err := chat2.Thread(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, chatcell.Describe(err))
	}
	fmt.Printf("the thread has %d messages\n", len(msgs))
	chat2.ShowThread()
	chat2.DeleteThread()

	section("3-5 a history we keep ourselves (store=false)")
	hist := chatcell.NewHistList(chatcell.WithName("hist"))
	hist.Ask("你知道什麼是流冰嗎？")
	hist.Ask("哪裡看得到？")
	gob := filepath.Join(os.TempDir(), "gonbchat-hist.gob")
	hist.Save(gob)
	fmt.Printf("saved %d messages to %s; total usage %v\n", len(hist.Messages()), gob, hist.Usage())
}

func section(title string) { fmt.Printf("\n=== %s ===\n\n", title) }

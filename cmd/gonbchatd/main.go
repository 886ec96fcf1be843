//go:build !gonbchat_kernel

// Command gonbchatd is the kernel helper of gonbchat's kernel mode (see package internal/kernel):
// one process per GoNB kernel that runs the chats, the displays and the offline model for the
// kernel's cells, which link only thin stubs. Cells start it by themselves on first use (building
// it once per gonbchat version into the user's cache directory); it exits with its kernel.
//
//	gonbchatd -kernel PID -dir $GONB_TMP_DIR/.gonbchat -key BUILD
package main

import (
	"os"

	"github.com/gonbchat/gonbchat/internal/kernel/helper"
)

func main() { os.Exit(helper.Main(os.Args[1:])) }

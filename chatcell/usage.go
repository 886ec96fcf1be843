package chatcell

import "github.com/gonbchat/gonbchat/history"

// Usage counts tokens: of one turn, or summed over a chat.
type Usage = history.Usage

// Message is one message of a conversation (role, content, optional name and marks).
type Message = history.Message

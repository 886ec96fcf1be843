// Package chatcell lets you chat with an LLM from a GoNB notebook, one line per cell.
//
// It is the Go counterpart of the Python textbook's Chat and ChatWithHistList classes:
//
//	var chat = chatcell.New()          // cell 2: top-level, so GoNB re-creates it in every cell
//	%%
//	chat.Ask("你知道什麼是流冰嗎？")       // streams the reply into ONE display cell
//
//	%%
//	chat.Ask("哪裡看得到？")               // cell 3: a new process, but the chat goes on
//
// GoNB runs every cell as a new process. A chat therefore keeps its state (the last response id,
// usage totals, the history) in a file under $GONB_TMP_DIR, keyed by its name; the state lives as
// long as the kernel, like a Python object would. Outside GoNB the state lives in memory.
//
// With no OPENAI_API_KEY the chat talks to the offline "mirror" model of package mirror,
// in-process: no key and no network needed. With a key (and optionally OPENAI_BASE_URL, or
// WithProvider for Groq, Gemini, Mistral, Together or Fireworks) it talks to the real server.
//
// Notebook verbs (Ask, Save, Load, ShowThread, ShowConversation, DeleteThread, Rollback, Loop)
// never panic and need no error handling: an error appears as one readable line in the cell.
// They still return the error, and the Go API (Reply, Stream) returns errors without showing
// them. An error's text is that line, never with a key in it (see [Error]); errors.As finds an
// [*APIError] (the SDK's *openai.Error: the server's status, code and message) or a
// [*StreamError] in it, and errors.Is [ErrDropped], [ErrNoResponse], [ErrStalled]….
package chatcell

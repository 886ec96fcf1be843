// Package history is the client-side conversation history behind chatcell.ChatWithHistList:
// the Chat Completions way of chatting, where the whole history is sent with every turn.
//
// It mirrors what the Python textbooks do with a plain list of {"role", "content"} dicts
// and what the openai2 toolkit adds on top (rollback, forged dialogs, a message cap with
// pinned messages, JSON export), made safe for notebooks:
//
//   - A [List] holds [llm.Message] values. Its zero value is an empty, usable history.
//   - A turn is one user message and the assistant message(s) that answer it. System and
//     developer messages are not part of turns: Rollback and trimming never remove them.
//   - Every message gets a stable ID when it enters a List. Pins are marks on messages, so a
//     pinned message stays pinned when trimming or a rollback moves it to another position.
//   - Trimming ([List.SetMaxCount], [SlidingWindow], [TokenBudget], [Summarize]) removes whole
//     turns, oldest first, never leaves a reply without its question and always keeps the
//     newest turn. When pinned messages make that impossible the List keeps them and records
//     a warning ([ErrPinsExceedCap]) instead of silently breaking the limit.
//   - [Save] and [Load] keep a history in a gob file with a header, a version and a checksum,
//     written atomically under an inter-process lock. Loading a foreign, truncated or newer
//     file gives a [*FormatError] naming the file and what was found; it never panics.
//   - [List.ExportJSON] and [List.ImportJSON] speak openai2's fetch_messages() format.
//   - Messages, roles, usage and prices are the shared vocabulary of package llm.
//
// The package has no network code and does not import the OpenAI SDK: it is linked into
// every notebook cell. Token counting with a real tokenizer lives in the sub-package
// history/tokens, so only cells that use a token budget pay for its vocabularies.
package history

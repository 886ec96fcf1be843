// Package webchat serves a persona bot as a web page: lesson 004's Gradio ChatInterface, done
// right.
//
// The lesson builds messages = [system(character), assistant(description)] and launches a
// Gradio app whose handler appends every visitor's words to that one global list, so all
// visitors share (and see the effects of) one conversation. Here each visitor has a
// conversation of their own:
//
//   - A visitor is a random session id in a cookie (HttpOnly, SameSite=Lax). Their
//     conversation is a history.List whose head is the persona's start (the character as the
//     system message, the description as the bot's greeting, pinned). A reload re-renders it
//     from the server; with WithStateDir it survives a restart (one file per visitor, written
//     atomically, the least recently used dropped past Limits.MaxVisitors).
//   - The reply streams into the page (a streamed fetch body of JSON lines) as HTML rendered
//     on the server by display/markdown (goldmark's safe default: no raw HTML from the model,
//     CJK emphasis, highlighted code; math as MathML, which the browser lays out natively with
//     no script, the TeX itself shown where the converter does not understand a formula):
//     committed blocks are sent once, the open tail is re-sent, the final render replaces
//     the whole. A formula still streaming (not yet closed) shows as its $…$ text.
//   - Stop cancels the upstream request (the Model's context) and keeps what arrived, marked as
//     cut short; Retry asks the last question again; Undo rolls back the last turn; Clear
//     starts over from the greeting. A model error is one readable line in the bot's bubble
//     (WithDescribe; by default the error's first line with keys redacted), and the question
//     stays in the conversation so that Retry can ask it again.
//
// Safe defaults: the server listens on 127.0.0.1 and answers only to loopback host names (no
// DNS rebinding); listening on other interfaces needs WithShareToken, and visitors then need the
// link with the token (kept in a cookie after the first visit). The API key is the Model's: it
// never reaches the page. Per-visitor limits bound message length, request rate and history
// size; POSTs are checked for cross-origin requests and carry a per-session token; every
// response has a Content-Security-Policy that runs only the page's own script (no inline
// script) and loads nothing from another origin. Everything the page needs is embedded in the
// binary: no CDN, no build step.
//
// A Server is an http.Handler. Start serves it on an address (an ephemeral port by default)
// and returns its URL; ListenAndServe and Serve block until their context ends, then shut down
// gracefully.
//
// From a notebook cell, one line starts the page (lesson 004's iface.launch(debug=True)):
//
//	webchat.Launch(lucky, chatcell.NewEndpoint(chatcell.WithProvider("groq")))
//
// Launch shows the link and the page in the cell, and serves until the cell is stopped; where
// nobody can stop it (nbconvert, papermill, a script), it checks the page and stops at once,
// saying why. A chatcell Endpoint is a Model (the package links chatcell/completions, so that
// providers with only Chat Completions work), and its errors appear as chatcell's lines.
//
// The page's own words (buttons, placeholder, notes, refusals) are in English, Traditional or
// Simplified Chinese: WithLanguage, else $GONBCHAT_LANG.
package webchat

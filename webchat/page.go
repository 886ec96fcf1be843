package webchat

import (
	_ "embed"
	"html/template"
	"net/http"
	"strings"

	"github.com/gonbchat/gonbchat/llm"
)

//go:embed page.html
var pageHTML string

func parsePage() (*template.Template, error) {
	return template.New("page").Parse(pageHTML)
}

// bubble is one message on the page.
type bubble struct {
	Class string
	User  bool
	Text  string        // a visitor's message, shown as text
	HTML  template.HTML // a bot's message, rendered by display/markdown
	Note  string
}

type pageData struct {
	Title, Lang, CSRF, Version string
	UILang                     string  // the language of the page's own words
	T                          *uiText // the page's own words
	ScriptText                 string  // the script's lines, as JSON
	MaxRunes                   int
	Examples                   []string
	Log                        []bubble
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	ss := s.sessionFor(w, r, true)
	ss.mu.Lock()
	data := pageData{
		Title: s.p.Title, Lang: s.htmlLang(), UILang: s.lang, T: s.tx, ScriptText: s.scriptText,
		CSRF: csrfToken(ss.id), Version: staticVersion,
		MaxRunes: s.cfg.limits.MaxMessageRunes, Examples: s.p.Examples, Log: s.bubbles(ss),
	}
	ss.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.page.Execute(w, data); err != nil {
		s.log.Error("webchat: rendering the page", "err", err)
	}
}

// bubbles lays out the conversation: every question is followed by a bot bubble, the reply
// or the line saying why there is none. ss.mu is held.
func (s *Server) bubbles(ss *session) []bubble {
	msgs := ss.list.Messages()
	var out []bubble
	asked := false
	for i, m := range msgs {
		switch m.Role {
		case llm.User:
			asked = true
			out = append(out, bubble{Class: "msg user", User: true, Text: m.Content})
			if i+1 == len(msgs) || msgs[i+1].Role != llm.Assistant {
				n, ok := ss.notes[m.ID]
				if !ok {
					n = note{Line: s.tx.NoReply, Error: true}
				}
				out = append(out, bubble{Class: "msg bot failed", Note: n.Line})
			}
		case llm.Assistant:
			class := []string{"msg", "bot"}
			if !asked && m.Pinned {
				class = append(class, "greeting")
			}
			n, hasNote := ss.notes[m.ID]
			if m.Partial {
				class = append(class, "partial")
				if !hasNote {
					n = note{Line: s.tx.CutShort}
				}
			}
			if n.Error {
				class = append(class, "failed")
			}
			out = append(out, bubble{Class: strings.Join(class, " "), HTML: template.HTML(s.md.Render(m.Content)), Note: n.Line})
		}
	}
	return out
}

package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gonbchat/gonbchat/internal/apiwire"
)

// responsesRequest is the body of POST /v1/responses.
type responsesRequest struct {
	Model              *string           `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       *string           `json:"instructions"`
	Store              *bool             `json:"store"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Stream             *bool             `json:"stream"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	MaxOutputTokens    *int64            `json:"max_output_tokens"`
	MaxToolCalls       *int64            `json:"max_tool_calls"`
	Metadata           map[string]string `json:"metadata"`
	User               *string           `json:"user"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	Tools              json.RawMessage   `json:"tools"`
	Text               json.RawMessage   `json:"text"`
	Reasoning          *struct {
		Effort  *string `json:"effort"`
		Summary *string `json:"summary"`
	} `json:"reasoning"`
	Truncation           *string  `json:"truncation"`
	ServiceTier          *string  `json:"service_tier"`
	PromptCacheKey       *string  `json:"prompt_cache_key"`
	PromptCacheRetention *string  `json:"prompt_cache_retention"`
	SafetyIdentifier     *string  `json:"safety_identifier"`
	TopLogprobs          *int     `json:"top_logprobs"`
	FrequencyPenalty     *float64 `json:"frequency_penalty"`
	PresencePenalty      *float64 `json:"presence_penalty"`
}

// decodeBody decodes a JSON object body into v, answering OpenAI's errors
// for malformed JSON and wrongly typed fields. It reports success.
func decodeBody(w http.ResponseWriter, body []byte, v any) bool {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			badRequest(w, fmt.Sprintf("Invalid type for request body: expected an object, but got %s instead.", jsonKind(body)), "", "invalid_type")
			return false
		}
		invalidJSON(w)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			invalidType(w, te.Field, expectedKind(te), gotKind(te.Value))
			return false
		}
		invalidJSON(w)
		return false
	}
	return true
}

// gotKind names the JSON value described by UnmarshalTypeError.Value.
func gotKind(v string) string {
	switch {
	case v == "string":
		return "a string"
	case v == "bool":
		return "a boolean"
	case v == "array":
		return "an array"
	case v == "object":
		return "an object"
	case strings.HasPrefix(v, "number"):
		return "a number"
	}
	return v
}

func expectedKind(te *json.UnmarshalTypeError) string {
	if te.Type == nil {
		return "a valid value"
	}
	switch te.Type.Kind().String() {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32":
		return "an integer"
	case "float64", "float32":
		return "a decimal"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a valid value"
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// checkRange validates an optional decimal parameter.
func checkRange(w http.ResponseWriter, name string, v *float64, lo, hi float64) bool {
	if v == nil {
		return true
	}
	if *v < lo {
		badRequest(w, fmt.Sprintf("Invalid '%s': decimal below minimum value. Expected a value >= %s, but got %s instead.", name, fmtNum(lo), fmtNum(*v)), name, "decimal_below_min_value")
		return false
	}
	if *v > hi {
		badRequest(w, fmt.Sprintf("Invalid '%s': decimal above maximum value. Expected a value <= %s, but got %s instead.", name, fmtNum(hi), fmtNum(*v)), name, "decimal_above_max_value")
		return false
	}
	return true
}

var validRoles = map[string]bool{"user": true, "assistant": true, "system": true, "developer": true}

// parseInput turns the input parameter into items. It writes the error and
// returns false when input is invalid.
func parseInput(w http.ResponseWriter, raw json.RawMessage) ([]item, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []item{newMessage("user", s)}, true
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		invalidType(w, "input", "one of a string or array of input items", jsonKind(raw))
		return nil, false
	}
	items := make([]item, 0, len(list))
	for i, el := range list {
		var m struct {
			Type    *string         `json:"type"`
			Role    *string         `json:"role"`
			Content json.RawMessage `json:"content"`
			ID      string          `json:"id"`
		}
		if json.Unmarshal(el, &m) != nil {
			invalidType(w, fmt.Sprintf("input[%d]", i), "an object", jsonKind(el))
			return nil, false
		}
		if m.Type != nil && *m.Type != "message" {
			items = append(items, item{Type: *m.Type, Raw: el})
			continue
		}
		param := fmt.Sprintf("input[%d]", i)
		if m.Role == nil {
			missingParam(w, param+".role")
			return nil, false
		}
		if !validRoles[*m.Role] {
			badRequest(w, fmt.Sprintf("Invalid value: '%s'. Supported values are: 'assistant', 'system', 'developer', and 'user'.", *m.Role), param+".role", "invalid_value")
			return nil, false
		}
		if len(m.Content) == 0 {
			missingParam(w, param+".content")
			return nil, false
		}
		it := item{ID: m.ID, Type: "message", Status: "completed", Role: *m.Role}
		if it.ID == "" {
			it.ID = newID("msg")
		}
		if json.Unmarshal(m.Content, &s) == nil {
			it.Content = []part{{Type: textPartType(*m.Role), Text: s}}
		} else if err := json.Unmarshal(m.Content, &it.Content); err != nil {
			if errors.Is(err, errMissingText) {
				missingParam(w, param+".content[].text")
			} else {
				invalidType(w, param+".content", "one of a string or array of input content parts", jsonKind(m.Content))
			}
			return nil, false
		}
		items = append(items, it)
	}
	return items, true
}

func textPartType(role string) string {
	if role == "assistant" {
		return "output_text"
	}
	return "input_text"
}

func newMessage(role, text string) item {
	return item{ID: newID("msg"), Type: "message", Status: "completed", Role: role,
		Content: []part{{Type: textPartType(role), Text: text}}}
}

// turnsOf converts message items to turns (other items are skipped).
func turnsOf(items []item) []turn {
	var ts []turn
	for _, it := range items {
		if it.Type == "message" && it.Raw == nil {
			ts = append(ts, turn{Role: it.Role, Text: it.text()})
		}
	}
	return ts
}

// resolveChain returns the context of a chain ending at id: the input items
// and outputs of every response in the chain, oldest first. ok is false if
// the response id itself is not stored; a deleted older response just ends
// the context there.
func (h *Handler) resolveChain(id string) (items []item, ok bool, err error) {
	var chain []*storedResponse
	seen := map[string]bool{}
	for id != "" {
		if seen[id] || len(chain) > 100000 {
			return nil, false, fmt.Errorf("mirror: cycle in response chain at %s", id)
		}
		seen[id] = true
		s, err := h.store.get(id)
		if err != nil {
			return nil, false, err
		}
		if s == nil {
			if len(chain) == 0 {
				return nil, false, nil
			}
			break
		}
		chain = append(chain, s)
		id = ""
		if p := s.Response.PreviousResponseID; p != nil {
			id = *p
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		items = append(items, chain[i].InputItems...)
		items = append(items, chain[i].Response.Output...)
	}
	return items, true, nil
}

func (h *Handler) createResponse(w http.ResponseWriter, r *http.Request, body []byte) {
	var req responsesRequest
	if !decodeBody(w, body, &req) {
		return
	}
	if req.Model == nil || *req.Model == "" {
		missingParam(w, "model")
		return
	}
	if !checkRange(w, "temperature", req.Temperature, 0, 2) || !checkRange(w, "top_p", req.TopP, 0, 1) {
		return
	}
	if m := req.MaxOutputTokens; m != nil && *m < 16 {
		badRequest(w, fmt.Sprintf("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got %d instead.", *m), "max_output_tokens", "integer_below_min_value")
		return
	}
	input, ok := parseInput(w, req.Input)
	if !ok {
		return
	}
	var context []item
	if p := req.PreviousResponseID; p != nil && *p != "" {
		var found bool
		var err error
		context, found, err = h.resolveChain(*p)
		if err != nil {
			serverError(w, "mirror: reading the store: "+err.Error())
			return
		}
		if !found {
			badRequest(w, fmt.Sprintf("Previous response with id '%s' not found.", *p), "previous_response_id", "previous_response_not_found")
			return
		}
	}

	resp := h.newResponseObject(&req)
	instructions := ""
	if req.Instructions != nil {
		instructions = *req.Instructions
	}
	turns := turnsOf(append(append([]item{}, context...), input...))
	text := reply(r, func() string {
		// System and developer messages of the context are instructions too.
		shown := []string{}
		if strings.TrimSpace(instructions) != "" {
			shown = append(shown, instructions)
		}
		for _, t := range turns {
			if (t.Role == "system" || t.Role == "developer") && strings.TrimSpace(t.Text) != "" {
				shown = append(shown, t.Text)
			}
		}
		return answer(prompt{
			Model: resp.Model, Instructions: strings.Join(shown, " / "), Turns: turns,
			Chained: len(context) > 0, Simplified: h.simplified,
		}, responsesFormat(req.Text))
	})
	status := "completed"
	if m := req.MaxOutputTokens; m != nil {
		if cut, truncated := h.truncateTokens(text, int(*m)); truncated {
			text, status = cut, "incomplete"
		}
	}
	u := &usage{InputTokens: h.promptTokens(instructions, turns), OutputTokens: h.countTokens(text)}
	if status == "incomplete" {
		u.OutputTokens = int(*req.MaxOutputTokens) // the whole budget was spent
	}
	u.TotalTokens = u.InputTokens + u.OutputTokens

	gen := &generation{
		h: h, resp: resp, input: input, text: text, status: status, usage: u,
		msgID: newID("msg"),
	}
	if req.Stream != nil && *req.Stream {
		gen.stream(w, r)
		return
	}
	gen.finish()
	if err := gen.save(); err != nil {
		serverError(w, "mirror: writing the store: "+err.Error())
		return
	}
	out := *gen.resp
	out.Billing = &billing{Payer: "developer"}
	apiwire.WriteJSON(w, http.StatusOK, &out)
}

// newResponseObject is the in_progress response echoing req's parameters.
func (h *Handler) newResponseObject(req *responsesRequest) *responseObject {
	resp := &responseObject{
		ID:                 newID("resp"),
		Object:             "response",
		CreatedAt:          h.now().Unix(),
		Status:             "in_progress",
		Instructions:       req.Instructions,
		MaxOutputTokens:    req.MaxOutputTokens,
		MaxToolCalls:       req.MaxToolCalls,
		Model:              *req.Model,
		Output:             []item{},
		ParallelToolCalls:  true,
		PreviousResponseID: req.PreviousResponseID,
		PromptCacheKey:     req.PromptCacheKey,
		SafetyIdentifier:   req.SafetyIdentifier,
		ServiceTier:        "auto",
		Store:              true,
		Temperature:        1,
		Text:               json.RawMessage(`{"format":{"type":"text"},"verbosity":"medium"}`),
		ToolChoice:         json.RawMessage(`"auto"`),
		Tools:              json.RawMessage(`[]`),
		TopP:               1,
		Truncation:         "disabled",
		User:               req.User,
		Metadata:           map[string]string{},
	}
	if resp.PreviousResponseID != nil && *resp.PreviousResponseID == "" {
		resp.PreviousResponseID = nil
	}
	echo(&resp.Store, req.Store)
	echo(&resp.Temperature, req.Temperature)
	echo(&resp.TopP, req.TopP)
	echo(&resp.ParallelToolCalls, req.ParallelToolCalls)
	if req.Metadata != nil {
		resp.Metadata = req.Metadata
	}
	if len(req.ToolChoice) > 0 && string(req.ToolChoice) != "null" {
		resp.ToolChoice = req.ToolChoice
	}
	if len(req.Tools) > 0 && string(req.Tools) != "null" {
		resp.Tools = req.Tools
	}
	if len(req.Text) > 0 && string(req.Text) != "null" {
		resp.Text = req.Text
	}
	echo(&resp.Truncation, req.Truncation)
	echo(&resp.ServiceTier, req.ServiceTier)
	if req.PromptCacheRetention != nil {
		resp.PromptCacheRetention = req.PromptCacheRetention
	}
	echo(&resp.TopLogprobs, req.TopLogprobs)
	echo(&resp.FrequencyPenalty, req.FrequencyPenalty)
	echo(&resp.PresencePenalty, req.PresencePenalty)
	if req.Reasoning != nil {
		resp.Reasoning.Effort = req.Reasoning.Effort
		resp.Reasoning.Summary = req.Reasoning.Summary
	}
	return resp
}

// echo copies an optional request field into the response, which reports the value in force.
func echo[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// generation is one Responses API answer being produced.
type generation struct {
	h      *Handler
	resp   *responseObject
	input  []item
	text   string
	status string // final status: completed or incomplete
	usage  *usage
	msgID  string
}

func (g *generation) message(status string, text string, withContent bool) item {
	it := item{ID: g.msgID, Type: "message", Status: status, Role: "assistant", Content: []part{}}
	if withContent {
		it.Content = []part{{Type: "output_text", Text: text}}
	}
	return it
}

// finish turns resp into its final state.
func (g *generation) finish() {
	r := g.resp
	r.Status = g.status
	r.CompletedAt = ptr(g.h.now().Unix())
	if r.ServiceTier == "auto" {
		r.ServiceTier = "default"
	}
	r.Output = []item{g.message(g.status, g.text, true)}
	r.Usage = g.usage
	if g.status == "incomplete" {
		r.CompletedAt = nil
		r.IncompleteDetails = &incompleteDetails{Reason: "max_output_tokens"}
	}
}

// save stores the response when store is true.
func (g *generation) save() error {
	if !g.resp.Store {
		return nil
	}
	return g.h.store.put(&storedResponse{Response: *g.resp, InputItems: g.input})
}

type responseEvent struct {
	Type     string          `json:"type"`
	Response *responseObject `json:"response"`
}

type outputItemEvent struct {
	Type        string `json:"type"`
	Item        item   `json:"item"`
	OutputIndex int    `json:"output_index"`
}

type contentPartEvent struct {
	Type         string `json:"type"`
	ContentIndex int    `json:"content_index"`
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	Part         part   `json:"part"`
}

type textDeltaEvent struct {
	Type         string `json:"type"`
	ContentIndex int    `json:"content_index"`
	Delta        string `json:"delta"`
	ItemID       string `json:"item_id"`
	Logprobs     []any  `json:"logprobs"`
	Obfuscation  string `json:"obfuscation"`
	OutputIndex  int    `json:"output_index"`
}

type textDoneEvent struct {
	Type         string `json:"type"`
	ContentIndex int    `json:"content_index"`
	ItemID       string `json:"item_id"`
	Logprobs     []any  `json:"logprobs"`
	OutputIndex  int    `json:"output_index"`
	Text         string `json:"text"`
}

// obfuscation pads a delta event to a near-constant size, as the real API
// does (stream_options.include_obfuscation defaults to true).
func obfuscation(delta string) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	n := max(16-len(delta), 2)
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[(len(delta)*7+i*13)%len(letters)]
	}
	return string(b)
}

// snapshot copies resp so that later changes do not alter a sent event.
func snapshot(r *responseObject) *responseObject {
	c := *r
	c.Output = append([]item{}, r.Output...)
	return &c
}

func (g *generation) stream(w http.ResponseWriter, r *http.Request) {
	sw := newSSEWriter(r.Context(), w, true)
	err := g.writeEvents(sw)
	finishStream(err)
}

func (g *generation) writeEvents(sw *sseWriter) error {
	h := g.h
	if err := sw.event("response.created", responseEvent{"response.created", snapshot(g.resp)}); err != nil {
		return err
	}
	if err := sw.event("response.in_progress", responseEvent{"response.in_progress", snapshot(g.resp)}); err != nil {
		return err
	}
	if err := sw.event("response.output_item.added", outputItemEvent{"response.output_item.added", g.message("in_progress", "", false), 0}); err != nil {
		return err
	}
	if err := sw.event("response.content_part.added", contentPartEvent{"response.content_part.added", 0, g.msgID, 0, part{Type: "output_text"}}); err != nil {
		return err
	}
	for i, d := range splitDeltas(g.text) {
		if i > 0 {
			if err := sw.pause(h.pace); err != nil {
				return err
			}
		}
		ev := textDeltaEvent{"response.output_text.delta", 0, d, g.msgID, []any{}, obfuscation(d), 0}
		if err := sw.event(ev.Type, ev); err != nil {
			return err
		}
	}
	if err := sw.event("response.output_text.done", textDoneEvent{"response.output_text.done", 0, g.msgID, []any{}, 0, g.text}); err != nil {
		return err
	}
	if err := sw.event("response.content_part.done", contentPartEvent{"response.content_part.done", 0, g.msgID, 0, part{Type: "output_text", Text: g.text}}); err != nil {
		return err
	}
	if err := sw.event("response.output_item.done", outputItemEvent{"response.output_item.done", g.message(g.status, g.text, true), 0}); err != nil {
		return err
	}
	g.finish()
	// Store before the final event, so a client that reacts to it can chain.
	if err := g.save(); err != nil {
		return err
	}
	final := "response.completed"
	if g.status == "incomplete" {
		final = "response.incomplete"
	}
	return sw.event(final, responseEvent{final, snapshot(g.resp)})
}

// stored returns the stored response id, or answers the request (404 or 500) and returns nil.
func (h *Handler) stored(w http.ResponseWriter, id string) *storedResponse {
	s, err := h.store.get(id)
	if err != nil {
		serverError(w, "mirror: reading the store: "+err.Error())
		return nil
	}
	if s == nil {
		responseNotFound(w, id)
	}
	return s
}

func (h *Handler) getResponse(w http.ResponseWriter, r *http.Request, id string) {
	s := h.stored(w, id)
	if s == nil {
		return
	}
	if r.URL.Query().Get("stream") == "true" {
		badRequest(w, "mirror: streaming a stored response is not supported.", "stream", "")
		return
	}
	out := s.Response
	out.Billing = &billing{Payer: "developer"}
	apiwire.WriteJSON(w, http.StatusOK, &out)
}

type deletedResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

func (h *Handler) deleteResponse(w http.ResponseWriter, id string) {
	ok, err := h.store.delete(id)
	if err != nil {
		serverError(w, "mirror: writing the store: "+err.Error())
		return
	}
	if !ok {
		responseNotFound(w, id)
		return
	}
	apiwire.WriteJSON(w, http.StatusOK, deletedResponse{ID: id, Object: "response.deleted", Deleted: true})
}

type listPage struct {
	Object  string  `json:"object"`
	Data    []item  `json:"data"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
	HasMore bool    `json:"has_more"`
}

func itemID(it item) string {
	if it.Raw == nil {
		return it.ID
	}
	var m struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(it.Raw, &m)
	return m.ID
}

func (h *Handler) listInputItems(w http.ResponseWriter, r *http.Request, id string) {
	s := h.stored(w, id)
	if s == nil {
		return
	}
	// The input items of a response are everything the model was given: the
	// context inherited through previous_response_id, then its own input.
	var items []item
	if p := s.Response.PreviousResponseID; p != nil && *p != "" {
		var err error
		items, _, err = h.resolveChain(*p)
		if err != nil {
			serverError(w, "mirror: reading the store: "+err.Error())
			return
		}
	}
	items = append(items, s.InputItems...)
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			invalidType(w, "limit", "an integer", "a string")
			return
		}
		if n < 1 || n > 100 {
			badRequest(w, fmt.Sprintf("Invalid 'limit': integer out of range. Expected a value between 1 and 100, but got %d instead.", n), "limit", "integer_out_of_range")
			return
		}
		limit = n
	}
	order := q.Get("order")
	if order == "" {
		order = "desc"
	}
	if order != "asc" && order != "desc" {
		badRequest(w, fmt.Sprintf("Invalid value: '%s'. Supported values are: 'asc' and 'desc'.", order), "order", "invalid_value")
		return
	}
	if order == "desc" {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	if after := q.Get("after"); after != "" {
		found := false
		for i, it := range items {
			if itemID(it) == after {
				items, found = items[i+1:], true
				break
			}
		}
		if !found {
			items = nil
		}
	}
	page := listPage{Object: "list", Data: items}
	if len(items) > limit {
		page.Data, page.HasMore = items[:limit], true
	}
	if len(page.Data) > 0 {
		page.FirstID = ptr(itemID(page.Data[0]))
		page.LastID = ptr(itemID(page.Data[len(page.Data)-1]))
	}
	apiwire.WriteJSON(w, http.StatusOK, page)
}

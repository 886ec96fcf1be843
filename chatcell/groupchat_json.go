//go:build !gonbchat_kernel

package chatcell

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// What a group chat sends and how it reads the answer.
//
// The schema numbers the remarks asked for (remark_1, remark_2, …: an object, as structured
// outputs want at the top) instead of listing them: strict structured outputs have no way to
// say which speaker comes at which place of a list, but each numbered remark can restrict its
// speaker and audiences to the names asked for (enum), so a model in strict mode cannot write
// them out of order or for someone else. (The offline mirror model, which answers an instance
// of the schema with the first value of every enum, then answers in the right order too.) In
// JSON mode and with a plain prompt nothing is enforced: the answer is read tolerantly (a list,
// an object holding a list, code fences, text around the JSON) and checked.

// remarkKey is the key of the i-th remark asked for (from 0).
func remarkKey(i int) string { return "remark_" + strconv.Itoa(i+1) }

// remarkIndex reads a key written by remarkKey (also "remark1", "1"); -1 if it is not one.
func remarkIndex(key string) int {
	k := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(key), "remark"), "_")
	n, err := strconv.Atoi(k)
	if err != nil || n < 1 {
		return -1
	}
	return n - 1
}

// jsonText is s as a JSON string, without HTML escapes.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func jsonStrings(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = jsonString(s)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// remarksSchema is the strict JSON schema of the remarks asked for, its properties in order.
func remarksSchema(cues []Cue) json.RawMessage {
	var props, req []string
	for i, c := range cues {
		item := `{"type":"object","properties":{` +
			`"speaker":{"type":"string","enum":` + jsonStrings([]string{c.Speaker}) + `},` +
			`"audiences":{"type":"array","items":{"type":"string","enum":` + jsonStrings(c.Audiences) + `}},` +
			`"remark":{"type":"string"}},` +
			`"required":["speaker","audiences","remark"],"additionalProperties":false}`
		props = append(props, jsonString(remarkKey(i))+":"+item)
		req = append(req, jsonString(remarkKey(i)))
	}
	return json.RawMessage(`{"type":"object","properties":{` + strings.Join(props, ",") +
		`},"required":[` + strings.Join(req, ",") + `],"additionalProperties":false}`)
}

// cueLine is one remark asked for, as the prompt and the error lines say it.
func cueLine(lang string, c Cue) string {
	return c.Speaker + " → " + strings.Join(c.Audiences, gtr(lang, gcAudienceSep))
}

// groupPrompt is the instructions (the roles and the rules) and the user message (the remarks
// asked for, then the dialogue so far) of a request. note says what was wrong with the last
// answer, when asking again.
func groupPrompt(lang string, roles []Role, extra []string, dialog []Remark, cues []Cue, note string) (instructions, user string) {
	var rl []string
	for _, r := range roles {
		line := "- " + r.Name
		if d := strings.TrimSpace(r.Description); d != "" {
			line += ": " + d
		}
		rl = append(rl, line)
	}
	instructions = gtr(lang, gcSystem, strings.Join(rl, "\n"))
	for _, e := range extra {
		if e = strings.TrimSpace(e); e != "" {
			instructions += "\n\n" + e
		}
	}
	var b strings.Builder
	b.WriteString(gtr(lang, gcNextRemarks) + "\n")
	for i, c := range cues {
		fmt.Fprintf(&b, "%d. %s\n", i+1, cueLine(lang, c))
	}
	if note != "" {
		b.WriteString(gtr(lang, gcRetryNote, note) + "\n")
	}
	b.WriteString("\n")
	if len(dialog) == 0 {
		b.WriteString(gtr(lang, gcNotStarted))
		return instructions, b.String()
	}
	b.WriteString(gtr(lang, gcSoFar) + "\n[\n")
	for i, r := range dialog {
		text := r.Remark
		if r.Partial {
			text += "…"
		}
		fmt.Fprintf(&b, `{"speaker":%s,"audiences":%s,"remark":%s}`, jsonString(r.Speaker), jsonStrings(r.Audiences), jsonString(text))
		if i < len(dialog)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("]")
	return instructions, b.String()
}

// rawRemark is a remark as a model wrote it.
type rawRemark struct {
	Speaker   string
	Audiences []string
	Remark    string
}

// parseRemarks reads the remarks of an answer tolerantly: the numbered object asked for, a
// list, an object holding one list, or a single remark; around it may be text or code fences.
func parseRemarks(text string) ([]rawRemark, bool) {
	tries := 0
	for i := 0; i < len(text) && tries < 16; i++ {
		if text[i] != '{' && text[i] != '[' {
			continue
		}
		tries++
		var v json.RawMessage
		if json.NewDecoder(strings.NewReader(text[i:])).Decode(&v) != nil {
			continue
		}
		if rs, ok := interpretRemarks(v); ok {
			return rs, true
		}
	}
	return nil, false
}

func interpretRemarks(v json.RawMessage) ([]rawRemark, bool) {
	var list []json.RawMessage
	if json.Unmarshal(v, &list) == nil {
		return remarkList(list)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		return nil, false
	}
	type numbered struct {
		n   int
		raw json.RawMessage
	}
	var nums []numbered
	for k, raw := range obj {
		if n := remarkIndex(k); n >= 0 {
			nums = append(nums, numbered{n, raw})
		}
	}
	if len(nums) > 0 {
		slices.SortFunc(nums, func(a, b numbered) int { return a.n - b.n })
		list = nil
		for _, n := range nums {
			list = append(list, n.raw)
		}
		return remarkList(list)
	}
	if _, ok := obj["remark"]; ok {
		return remarkList([]json.RawMessage{v})
	}
	var lists []json.RawMessage
	for _, raw := range obj {
		if json.Unmarshal(raw, &list) == nil {
			lists = append(lists, raw)
		}
	}
	if len(lists) == 1 {
		json.Unmarshal(lists[0], &list)
		return remarkList(list)
	}
	return nil, false
}

func remarkList(list []json.RawMessage) ([]rawRemark, bool) {
	var out []rawRemark
	for _, raw := range list {
		var r struct {
			Speaker   string          `json:"speaker"`
			Audiences json.RawMessage `json:"audiences"`
			Audience  json.RawMessage `json:"audience"`
			Remark    *string         `json:"remark"`
		}
		if json.Unmarshal(raw, &r) != nil || r.Remark == nil {
			return nil, false
		}
		rr := rawRemark{Speaker: strings.TrimSpace(r.Speaker), Remark: *r.Remark}
		for _, a := range []json.RawMessage{r.Audiences, r.Audience} {
			var one string
			var many []string
			switch {
			case json.Unmarshal(a, &many) == nil:
				rr.Audiences = append(rr.Audiences, many...)
			case json.Unmarshal(a, &one) == nil && one != "":
				rr.Audiences = append(rr.Audiences, one)
			}
		}
		out = append(out, rr)
	}
	return out, len(out) > 0
}

// checkRemarks says what is wrong with an answer ("" if it is the remarks asked for: as many,
// by the speakers asked for, in that order, none empty).
func checkRemarks(lang string, got []rawRemark, ok bool, cues []Cue) string {
	if !ok {
		return gtr(lang, gcNotJSON)
	}
	match := len(got) == len(cues)
	var names []string
	for i, r := range got {
		names = append(names, r.Speaker)
		match = match && i < len(cues) && r.Speaker == cues[i].Speaker && strings.TrimSpace(r.Remark) != ""
	}
	if match {
		return ""
	}
	var want []string
	for _, c := range cues {
		want = append(want, c.Speaker)
	}
	gotLine := strings.Join(names, ", ")
	for _, r := range got {
		if strings.TrimSpace(r.Remark) == "" {
			gotLine += " (" + gtr(lang, gcEmptyRemark) + ")"
			break
		}
	}
	return gtr(lang, gcWantGot, strings.Join(want, ", "), gotLine)
}

// remarkScanner reads the JSON of an answer as it streams and finds the text of each remark:
// the string value of a "remark" key. Text before the JSON (a code fence) and after it is
// skipped. It never fails: what it cannot read it ignores.
type remarkScanner struct {
	started, done bool
	stack         []scanFrame
	inString      bool
	isKey         bool
	esc           bool
	uni           []byte // the hex digits of a \u escape
	high          rune   // a pending high surrogate
	str           strings.Builder
	next          int           // the index the next unnumbered remark gets
	cur           *scanRemark   // the remark whose text is being read
	remarks       []*scanRemark // in the order they began
	onStart       func(r *scanRemark)
	onText        func(s string)
}

type scanFrame struct {
	obj       bool
	expectKey bool
	key       string
	index     int // the remark's index when the object is a numbered one (remark_N), else -1
	speaker   string
	remark    *scanRemark
}

type scanRemark struct {
	index    int
	speaker  string // as written before the remark's text ("" if it came after)
	text     strings.Builder
	complete bool
}

func (s *remarkScanner) top() *scanFrame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// Write reads the next piece of the answer.
func (s *remarkScanner) Write(p string) {
	var out strings.Builder
	flush := func() {
		if out.Len() > 0 && s.onText != nil {
			s.onText(out.String())
		}
		out.Reset()
	}
	for i := 0; i < len(p) && !s.done; i++ {
		c := p[i]
		if !s.started {
			if c != '{' && c != '[' {
				continue
			}
			s.started = true
		}
		if s.inString {
			s.stringByte(c, &out)
			continue
		}
		f := s.top()
		switch c {
		case '{', '[':
			nf := scanFrame{obj: c == '{', expectKey: c == '{', index: -1}
			if f != nil && f.obj && c == '{' {
				nf.index = remarkIndex(f.key)
			}
			s.stack = append(s.stack, nf)
		case '}', ']':
			s.stack = s.stack[:len(s.stack)-1]
			if len(s.stack) == 0 {
				s.done = true
			}
		case ':':
			if f != nil && f.obj {
				f.expectKey = false
			}
		case ',':
			if f != nil && f.obj {
				f.expectKey, f.key = true, ""
			}
		case '"':
			s.inString, s.esc, s.str = true, false, strings.Builder{}
			s.isKey = f != nil && f.obj && f.expectKey
			if !s.isKey && f != nil && f.obj && f.key == "remark" && f.remark == nil {
				flush()
				idx := f.index
				if idx < 0 {
					idx = s.next
				}
				s.next = max(s.next, idx+1)
				r := &scanRemark{index: idx, speaker: f.speaker}
				f.remark, s.cur = r, r
				s.remarks = append(s.remarks, r)
				if s.onStart != nil {
					s.onStart(r)
				}
			}
		}
	}
	flush()
}

// stringByte reads one byte inside a string, decoding escapes; the text of the remark being
// read goes to out as well.
func (s *remarkScanner) stringByte(c byte, out *strings.Builder) {
	emit := func(r rune) {
		if s.high != 0 {
			if utf16.IsSurrogate(r) {
				r = utf16.DecodeRune(s.high, r)
			} else {
				s.emitRune('\uFFFD', out)
			}
			s.high = 0
		} else if r >= 0xD800 && r < 0xDC00 {
			s.high = r
			return
		}
		s.emitRune(r, out)
	}
	switch {
	case s.uni != nil:
		s.uni = append(s.uni, c)
		if len(s.uni) == 4 {
			n, err := strconv.ParseUint(string(s.uni), 16, 32)
			s.uni = nil
			if err == nil {
				emit(rune(n))
			}
		}
	case s.esc:
		s.esc = false
		switch c {
		case 'u':
			s.uni = []byte{}
		case 'n':
			emit('\n')
		case 't':
			emit('\t')
		case 'r':
			emit('\r')
		case 'b', 'f':
		default: // " \ /
			emit(rune(c))
		}
	case c == '\\':
		s.esc = true
	case c == '"':
		s.endString()
	default:
		if s.high != 0 {
			s.emitRune('\uFFFD', out)
			s.high = 0
		}
		s.str.WriteByte(c)
		if s.cur != nil {
			s.cur.text.WriteByte(c)
			out.WriteByte(c)
		}
	}
}

func (s *remarkScanner) emitRune(r rune, out *strings.Builder) {
	s.str.WriteRune(r)
	if s.cur != nil {
		s.cur.text.WriteRune(r)
		out.WriteRune(r)
	}
}

func (s *remarkScanner) endString() {
	s.inString = false
	f := s.top()
	switch {
	case f == nil:
	case s.isKey:
		f.key = s.str.String()
	case s.cur != nil:
		s.cur.complete = true
		s.cur = nil
	case f.obj && f.key == "speaker":
		f.speaker = strings.TrimSpace(s.str.String())
	}
}

// scanRemarks reads a whole (or cut-short) answer.
func scanRemarks(text string) []*scanRemark {
	var s remarkScanner
	s.Write(text)
	return s.remarks
}

// dialogueCell shows a group chat's answer in a reply cell as the dialogue it holds (who said
// what to whom) while it streams, instead of its JSON.
type dialogueCell struct {
	cell  replyCell
	lang  string
	cues  []Cue
	raw   strings.Builder
	scan  remarkScanner
	shown int
	last  bool // no other attempt follows this one
	cut   bool // the reply was cut short
}

func newDialogueCell(cell replyCell, lang string, cues []Cue, last bool) *dialogueCell {
	d := &dialogueCell{cell: cell, lang: lang, cues: cues, last: last}
	d.scan.onStart = func(r *scanRemark) {
		if d.shown > 0 {
			d.cell.Write("\n\n")
		}
		d.shown++
		d.cell.Write(remarkHeader(lang, r.speaker, r.index, cues))
	}
	d.scan.onText = func(s string) {
		// A line break in a remark (a poem) stays a line break.
		d.cell.Write(strings.ReplaceAll(s, "\n", "  \n"))
	}
	return d
}

// remarkHeader is "**speaker** → audiences：" for the remark at index: the speaker the model
// wrote if it came first, else the one asked for.
func remarkHeader(lang, speaker string, index int, cues []Cue) string {
	var aud []string
	if index < len(cues) {
		if speaker == "" {
			speaker = cues[index].Speaker
		}
		aud = cues[index].Audiences
	}
	return gtr(lang, gcHeader, speaker, strings.Join(aud, gtr(lang, gcAudienceSep)))
}

func (d *dialogueCell) Write(delta string) {
	d.raw.WriteString(delta)
	d.scan.Write(delta)
}

func (d *dialogueCell) Status(line string) { d.cell.Status(line) }
func (d *dialogueCell) CutShort()          { d.cut = true; d.cell.CutShort() }

// Close ends the cell; an answer that came whole but is not the remarks asked for says so.
func (d *dialogueCell) Close(meta map[string]any) {
	if !d.cut && d.raw.Len() > 0 {
		got, ok := parseRemarks(d.raw.String())
		if why := checkRemarks(d.lang, got, ok, d.cues); why != "" {
			if d.shown == 0 {
				// Nothing readable was shown: show what came, so that the reason can be seen.
				d.cell.Write("```\n" + strings.ReplaceAll(excerpt(d.raw.String(), 400), "```", "ʼʼʼ") + "\n```")
			}
			note := gcAskingAgain
			if d.last {
				note = gcNotAsked
			}
			d.cell.Write("\n\n*" + gtr(d.lang, note, why) + "*")
		}
	}
	d.cell.Close(meta)
}

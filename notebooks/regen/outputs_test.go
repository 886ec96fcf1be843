package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func disp(typ, id, html, plain string, meta map[string]any) message {
	c := map[string]any{"data": map[string]any{"text/html": html}, "metadata": meta}
	if plain != "" {
		c["data"].(map[string]any)["text/plain"] = plain
	}
	if id != "" {
		c["transient"] = map[string]any{"display_id": id}
	} else {
		c["transient"] = map[string]any{}
	}
	return message{MsgType: typ, Content: c}
}

func stream(name, text string) message {
	return message{MsgType: "stream", Content: map[string]any{"name": name, "text": text}}
}

func prompt(p, value string) []message {
	return []message{
		{MsgType: "input_request", Content: map[string]any{"prompt": p}},
		{MsgType: "input_reply", Content: map[string]any{"value": value}},
	}
}

// kinds summarizes outputs as "type:text" for comparison.
func kinds(outs []map[string]any) []string {
	var s []string
	for _, o := range outs {
		switch o["output_type"] {
		case "stream":
			s = append(s, "stream:"+o["text"].(string))
		default:
			data := o["data"].(map[string]any)
			t, _ := data["text/plain"].(string)
			if t == "" {
				t, _ = data["text/html"].(string)
			}
			s = append(s, o["output_type"].(string)+":"+t)
		}
	}
	return s
}

func TestOutputsAreWhatAFrontEndSaves(t *testing.T) {
	meta := map[string]any{"gonbchat": map[string]any{"source": "offline", "updates": json.Number("21"), "mode": "replace"}}
	var msgs []message
	msgs = append(msgs, stream("stdout", "直接按 ↵ 可結束對話。\n"))
	msgs = append(msgs, prompt(">>> ", "你知道什麼是流冰嗎？")...)
	msgs = append(msgs,
		disp("display_data", "r1", "<i>thinking…</i>", "", nil),
		disp("update_display_data", "r1", "<p>流</p>", "", nil),
		disp("update_display_data", "r1", "<p>流冰</p>", "流冰", meta),
	)
	// The next prompt came before the last update and the usage line of the first reply.
	msgs = append(msgs, prompt(">>> ", "哪裡看得到？")...)
	msgs = append(msgs,
		disp("update_display_data", "r1", "<p>流冰</p>", "流冰", meta),
		disp("display_data", "", "<div>tokens 1</div>", "tokens 1", nil),
		disp("display_data", "r2", "<i>thinking…</i>", "", nil),
		disp("update_display_data", "r2", "", "", nil), // a reply that failed: the display ends empty
		disp("display_data", "", `<div class="gonbchat-error">✖ 400</div>`, "✖ 400", nil),
		stream("stdout", "a"), stream("stdout", "b\n"), stream("stderr", "warn\n"),
		message{MsgType: "execute_result", Content: map[string]any{"data": map[string]any{"text/plain": "42"}, "metadata": map[string]any{}}},
	)
	msgs = append(msgs, prompt(">>> ", "")...)
	got := outputs(msgs, 7)
	want := []string{
		"stream:直接按 ↵ 可結束對話。\n>>> 你知道什麼是流冰嗎？\n",
		"display_data:流冰",
		"display_data:tokens 1",
		"stream:>>> 哪裡看得到？\n",
		"display_data:✖ 400",
		"stream:ab\n",
		"stream:warn\n",
		"execute_result:42",
		"stream:>>> \n",
	}
	if k := kinds(got); !reflect.DeepEqual(k, want) {
		t.Fatalf("outputs:\n%q\nwant\n%q", k, want)
	}
	g := got[1]["metadata"].(map[string]any)["gonbchat"].(map[string]any)
	if _, ok := g["updates"]; ok || g["source"] != "offline" || g["mode"] != "replace" {
		t.Errorf("reply metadata = %v, want it without updates and with the rest", g)
	}
	if got[7]["execution_count"] != 7 {
		t.Errorf("execute_result count = %v", got[7]["execution_count"])
	}
	if meta["gonbchat"].(map[string]any)["updates"] == nil {
		t.Error("outputs changed the recorded message's metadata")
	}
}

func TestPromptsStayWhereNothingRaces(t *testing.T) {
	var msgs []message
	msgs = append(msgs, disp("display_data", "r1", "<p>a</p>", "a", nil), disp("display_data", "", "n1", "n1", nil))
	msgs = append(msgs, prompt(">>> ", "x")...)
	msgs = append(msgs, disp("display_data", "r2", "<p>b</p>", "b", nil))
	got := kinds(outputs(msgs, 1))
	want := []string{"display_data:a", "display_data:n1", "stream:>>> x\n", "display_data:b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outputs %q, want %q", got, want)
	}
}

func TestNormalizerRenumbersConsistently(t *testing.T) {
	id1 := "resp_" + strings.Repeat("a1", 25)
	id2 := "resp_" + strings.Repeat("b2", 25)
	cc := "chatcmpl-" + strings.Repeat("Zz9", 9) + "Qq"
	in := map[string]any{
		"text": id1 + "\n" + `{"id":"` + id2 + `","created_at":1796068435,"previous_response_id":"` + id1 + `"}` + "\n",
		"html": `&#34;created&#34;: 1796067848, ` + cc + ` \"completed_at\":1796067849`,
		"meta": map[string]any{"response_id": id2},
	}
	z := newNormalizer()
	z.walk(in)
	text := in["text"].(string)
	if strings.Contains(text, id1) || strings.Contains(text, id2) || strings.Contains(text, "1796068435") {
		t.Fatalf("not normalized: %s", text)
	}
	lines := strings.Split(text, "\n")
	n1 := lines[0]
	if len(n1) != len(id1) || !strings.HasPrefix(n1, "resp_") || !strings.Contains(lines[1], `"previous_response_id":"`+n1+`"`) {
		t.Errorf("the same id was not renumbered the same way: %q", text)
	}
	if !strings.Contains(lines[1], `"created_at":1700000000`) {
		t.Errorf("timestamp not fixed: %s", lines[1])
	}
	html := in["html"].(string)
	if strings.Contains(html, cc) || !strings.Contains(html, "&#34;created&#34;: 1700000000") || !strings.Contains(html, `\"completed_at\":1700000000`) {
		t.Errorf("html not normalized: %s", html)
	}
	if in["meta"].(map[string]any)["response_id"] == id2 {
		t.Error("metadata id not normalized")
	}
	// Ids are numbered in the order they are first seen, map keys in order ("meta" before
	// "text"): another run with other random ids gives the same text.
	first := in["meta"].(map[string]any)["response_id"].(string)
	z2 := newNormalizer()
	if other := z2.string("resp_" + strings.Repeat("c3", 25)); other != first {
		t.Errorf("a second run renumbers %q, the first %q", other, first)
	}
}

// TestFillIsStable writes a notebook twice from the same run: the bytes must not change, cells
// other than code cells keep their fields, and sources must match the run.
func TestFillIsStable(t *testing.T) {
	nbJSON := `{"cells":[{"cell_type":"markdown","id":"a","metadata":{},"source":["# 標題\n","<b>x</b> & y"]},
{"cell_type":"code","execution_count":null,"id":"b","metadata":{"gonbchat":{"expect":{"contains":["流冰"]}}},"outputs":[],"source":["%%\n","chat.Ask(\"流冰\")"]}],
"metadata":{"kernelspec":{"name":"gonb"}},"nbformat":4,"nbformat_minor":5}`
	run := &runDoc{Cells: []cellRun{{Index: 1, Source: "%%\nchat.Ask(\"流冰\")", Status: "ok", Messages: []message{
		disp("display_data", "r", "<p>x</p>", "", nil),
		disp("update_display_data", "r", "<p>流冰 resp_"+strings.Repeat("ab", 25)+"</p>\n<p>2</p>", "流冰", nil),
	}}}}
	write := func() []byte {
		var nb map[string]any
		if err := decodeJSON([]byte(nbJSON), &nb); err != nil {
			t.Fatal(err)
		}
		if err := fill(nb, run); err != nil {
			t.Fatal(err)
		}
		b, err := encodeNotebook(nb)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first, second := write(), write()
	if !bytes.Equal(first, second) {
		t.Fatalf("two writes differ:\n%s\n%s", first, second)
	}
	s := string(first)
	for _, want := range []string{"\"execution_count\": 1", "\"<b>x</b> & y\"", "\"<p>流冰 resp_", "\"<p>2</p>\"", "\"nbformat\": 4", "\n \"metadata\": {\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("the notebook lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, strings.Repeat("ab", 25)) {
		t.Error("the id was not renumbered")
	}
	// Re-reading and writing the result gives the same bytes (Jupyter's format is a fixed point).
	var nb map[string]any
	if err := decodeJSON(first, &nb); err != nil {
		t.Fatal(err)
	}
	again, _ := encodeNotebook(nb)
	if !bytes.Equal(again, first) {
		t.Error("re-encoding the written notebook changes it")
	}
	run.Cells[0].Source = "%%\nchat.Ask(\"別的\")"
	var nb2 map[string]any
	decodeJSON([]byte(nbJSON), &nb2)
	if err := fill(nb2, run); err == nil {
		t.Error("fill accepted a run of another source")
	}
}

// TestFormatMatchesJupyter compares the encoding with nbformat's own writer, when Debian's
// Python with nbformat is there.
func TestFormatMatchesJupyter(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := exec.LookPath(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	if exec.Command(py, "-c", "import nbformat").Run() != nil {
		t.Skip("no nbformat")
	}
	dir := t.TempDir()
	nbJSON := `{"cells":[{"cell_type":"code","execution_count":3,"id":"b","metadata":{},"outputs":[{"output_type":"stream","name":"stdout","text":["流冰 <b>&\n","x"]}],"source":["%%\n","x := \"a\\tb\""]}],"metadata":{},"nbformat":4,"nbformat_minor":5}`
	var nb map[string]any
	if err := decodeJSON([]byte(nbJSON), &nb); err != nil {
		t.Fatal(err)
	}
	ours, err := encodeNotebook(nb)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.ipynb")
	script := `import nbformat, sys
nb = nbformat.reads(sys.stdin.read(), as_version=4)
sys.stdout.write(nbformat.writes(nb) + "\n")`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(ours)
	theirs, err := cmd.Output()
	if err != nil {
		t.Fatalf("nbformat: %v (%s)", err, path)
	}
	if !bytes.Equal(ours, theirs) {
		t.Errorf("our encoding differs from nbformat's:\nours:\n%s\nnbformat:\n%s", ours, theirs)
	}
}

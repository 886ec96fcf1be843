package history

import (
	"bytes"
	"encoding/gob"
	"errors"
	"slices"
	"testing"

	"github.com/gonbchat/gonbchat/llm"
)

// checkLoaded checks what decodeFile returned for any input: an error that is a
// *FormatError naming the file and matching one of the sentinels, or a valid File that
// survives a save/load round trip.
func checkLoaded(t *testing.T, f *File, err error) {
	t.Helper()
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Path != "fuzz.gob" {
			t.Fatalf("not a *FormatError naming the file: %v", err)
		}
		known := false
		for _, s := range []error{ErrEmpty, ErrTruncated, ErrCorrupt, ErrNotHistory, ErrNewerVersion} {
			known = known || errors.Is(err, s)
		}
		if !known {
			t.Fatalf("error matches no sentinel: %v", err)
		}
		return
	}
	for i, m := range f.Messages {
		if verr := m.Validate(); verr != nil {
			t.Fatalf("loaded an invalid message %d: %v", i, verr)
		}
	}
	l := f.List() // must not panic, whatever the cap, IDs and pins
	l.Turns()
	data, err := encodeFile(f)
	if err != nil {
		t.Fatalf("a loaded file does not encode again: %v", err)
	}
	g, err := decodeFile("fuzz.gob", data)
	if err != nil {
		t.Fatalf("a loaded file does not load again: %v", err)
	}
	if !slices.Equal(g.Messages, f.Messages) || g.MaxCount != f.MaxCount || g.Usage != f.Usage {
		t.Fatal("round trip changed the file")
	}
}

// fuzzSeeds returns valid save files and their payloads.
func fuzzSeeds(t testing.TB) (files, payloads [][]byte) {
	l := New(WithMaxCount(4))
	l.SetSystem("sys")
	l.AppendTurn(llm.UserMsg("英国的首都是什么？").WithName("Ariel"), llm.AssistantMsg("伦敦"))
	l.AddDialogs(llm.UserMsg("1+1?"), llm.Message{Role: llm.Assistant, Content: "10", Partial: true})
	l.Pin(1)
	l.AddUsage(llm.Usage{InputTokens: 1, OutputTokens: 2, TotalTokens: 3})
	full := l.Snapshot()
	full.Model, full.Instructions, full.Meta = "gpt-4.1-nano", "be brief", map[string]string{"temperature": "0.2"}
	for _, f := range []*File{{}, full} {
		var p bytes.Buffer
		if err := gob.NewEncoder(&p).Encode(f); err != nil {
			t.Fatal(err)
		}
		data, err := encodeFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files, payloads = append(files, data), append(payloads, p.Bytes())
	}
	return files, payloads
}

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic, and must either reject
// the file with a clear *FormatError or load a valid history. Run it with
//
//	go test ./history -run '^$' -fuzz '^FuzzLoad$' -fuzztime 3m
//
// Interesting inputs are kept in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	files, _ := fuzzSeeds(f)
	for _, data := range files {
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{})
	f.Add([]byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00]\x94."))
	f.Add([]byte(`[{"role": "user", "content": "hi"}]`))
	f.Add(withHeader(2, []byte("from the future")))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := decodeFile("fuzz.gob", data)
		checkLoaded(t, file, err)
	})
}

// FuzzLoadPayload wraps arbitrary bytes in a valid header and checksum, so that the fuzzer
// reaches the gob decoder (which FuzzLoad's random files rarely do: the checksum stops them)
// as a hostile file would.
func FuzzLoadPayload(f *testing.F) {
	_, payloads := fuzzSeeds(f)
	for _, p := range payloads {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		file, err := decodeFile("fuzz.gob", withHeader(FormatVersion, payload))
		checkLoaded(t, file, err)
	})
}

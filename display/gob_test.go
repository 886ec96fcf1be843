//go:build !gonbchat_kernel

package display

import (
	"bytes"
	"encoding/gob"
	"reflect"
	"strings"
	"testing"

	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// The final update's metadata must survive the gob pipe to GoNB, whatever the caller put in it:
// a type gob does not know would close the pipe.
func TestMetadataEncodesOverGonbPipe(t *testing.T) {
	type point struct{ X, Y int }
	for _, meta := range []map[string]any{
		testMeta,
		{"counts": map[string]int{"a": 1}, "ids": []string{"x"}, "at": point{1, 2}, "n": int32(7)},
		{"bad": make(chan int), "fine": "yes"},
	} {
		rec := &recorder{}
		c := newCell(config{sink: rec})
		c.Write("**流冰**")
		c.Close(meta)
		msgs := rec.messages()
		last := msgs[len(msgs)-1].d
		if h, _ := last.Data["text/html"].(string); !strings.Contains(h, "流冰") {
			t.Errorf("the final update lacks the text: %q", h)
		}
		g := last.Metadata["gonbchat"].(map[string]any)
		if _, bad := meta["bad"]; bad {
			if e, _ := g["meta_error"].(string); !strings.Contains(e, "chan") || g["fine"] != nil {
				t.Errorf("metadata that JSON cannot encode: %v, want only a meta_error about it", g)
			}
		} else if _, ok := meta["at"]; ok && !reflect.DeepEqual(g["at"], map[string]any{"X": 1.0, "Y": 2.0}) {
			t.Errorf("a struct in the metadata: %v", g["at"])
		}
		gobRoundTrip(t, last)
	}
}

func gobRoundTrip(t *testing.T, last *protocol.DisplayData) {
	if len(last.Metadata) == 0 {
		t.Fatal("the final update has no metadata")
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(last); err != nil {
		t.Fatalf("gob cannot encode the final update: %v", err)
	}
	var back protocol.DisplayData
	if err := gob.NewDecoder(&buf).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if len(back.Metadata) != len(last.Metadata) {
		t.Errorf("metadata changed over gob: %v vs %v", back.Metadata, last.Metadata)
	}
}

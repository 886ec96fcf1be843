package display

import (
	"bytes"
	"encoding/gob"
	"testing"

	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// The final update's metadata must survive the gob pipe to GoNB.
func TestMetadataEncodesOverGonbPipe(t *testing.T) {
	rec := &recorder{}
	c := newCell(config{sink: rec})
	c.Write("**流冰**")
	c.Close(testMeta)
	msgs := rec.messages()
	last := msgs[len(msgs)-1].d
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

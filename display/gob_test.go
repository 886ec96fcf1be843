package display

import (
	"bytes"
	"encoding/gob"
	"testing"

	"github.com/janpfeifer/gonb/gonbui/protocol"
)

// The final update's metadata must survive the gob pipe to GoNB.
func TestMetadataEncodesOverGonbPipe(t *testing.T) {
	sink := &recordSinkForGob{}
	c := newCell(config{sink: sink})
	c.Write("**流冰**")
	c.Close(testMeta)
	if len(sink.msgs) == 0 {
		t.Fatal("no messages")
	}
	last := sink.msgs[len(sink.msgs)-1]
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

type recordSinkForGob struct{ msgs []*protocol.DisplayData }

func (r *recordSinkForGob) send(d *protocol.DisplayData) { r.msgs = append(r.msgs, d) }
func (r *recordSinkForGob) sync()                        {}

package openaitest

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Close returns even while a slow stream is in flight: it drops the connection, the producer
// stops (else Close would wait for it forever), and the client's read fails.
func TestServerCloseStopsStreams(t *testing.T) {
	srv := NewServer(WithPace(time.Hour))
	res, err := http.Post(srv.URL+"/responses", "application/json", strings.NewReader(`{"model":"m","input":"hi","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() && sc.Text() != "event: response.output_text.delta" {
	}
	srv.Close()
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Error("the stream completed")
	}
}

func TestParseEvent(t *testing.T) {
	name, data := parseEvent([]byte("event: response.created\ndata: {\"a\":1}\n\n"))
	if name != "response.created" || string(data) != `{"a":1}` {
		t.Errorf("parsed %q %q", name, data)
	}
	name, data = parseEvent([]byte("data: [DONE]\n\n"))
	if name != "" || string(data) != "[DONE]" {
		t.Errorf("parsed %q %q", name, data)
	}
}

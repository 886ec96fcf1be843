package inprocess

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

func get(t *testing.T, h http.HandlerFunc) (*http.Response, error) {
	t.Helper()
	return (&http.Client{Transport: Transport(h)}).Get("http://any.invalid/x")
}

func TestServesHeadersAndBody(t *testing.T) {
	res, err := get(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/x" || r.RequestURI != "/x" {
			t.Errorf("request %s %s", r.URL.Path, r.RequestURI)
		}
		w.Header().Set("Content-Length", "5")
		w.Header().Set("X-A", "b")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "hello")
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil || string(b) != "hello" || res.StatusCode != http.StatusTeapot || res.Header.Get("X-A") != "b" || res.ContentLength != 5 {
		t.Errorf("%d %v %q %v", res.StatusCode, res.Header, b, err)
	}
}

func TestAbortBeforeHeaderFailsTheRequest(t *testing.T) {
	_, err := get(t, func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	if !errors.Is(err, ErrConnReset) {
		t.Errorf("err %v", err)
	}
	_, err = get(t, func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("err %v", err)
	}
}

func TestAbortAfterHeaderIsUnexpectedEOF(t *testing.T) {
	res, err := get(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "data: 1\n\n")
		panic(http.ErrAbortHandler)
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if string(b) != "data: 1\n\n" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read %q, %v", b, err)
	}
}

func TestResetConnection(t *testing.T) {
	res, err := get(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "data: 1\n\n")
		w.(Resetter).ResetConnection()
		panic(http.ErrAbortHandler) // the reset's error stays
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if string(b) != "data: 1\n\n" || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read %q, %v", b, err)
	}
}

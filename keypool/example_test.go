package keypool_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gonbchat/gonbchat/keypool"
)

func Example() {
	keys := []string{"sk-example-key-number-one-0000000000", "sk-example-key-number-two-0000000000"}
	// A server on which the first key is rate limited.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+keys[0] {
			w.Header().Set("Retry-After", "20")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	pool, err := keypool.New(keys, keypool.WithName("demo"),
		keypool.WithNotify(func(e keypool.Event) { fmt.Println(e) }))
	if err != nil {
		fmt.Println(err)
		return
	}
	// With the SDK: option.WithHTTPClient(&http.Client{Transport: pool.Transport(nil)}).
	client := &http.Client{Transport: pool.Transport(nil)}
	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println(pool)
	// Output:
	// key#8bf780 rate limited (retry in 20 s); trying key#158b96
	// 200 ok
	// keypool.Pool(demo: key#8bf780 cooling for 20 s (429 rate_limit_exceeded), key#158b96 ready (1 use))
}

// Package keypool shares a list of API keys between chats: each request gets the next usable key
// in turn, a rate-limited key cools down while the request goes on with another, and a rejected
// key is taken out until [Pool.Reset].
//
//	pool, err := keypool.New(keys, keypool.WithStateDir(dir))
//	client := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: pool.Transport(nil)}))
//
// The [Pool.Transport] sets "Authorization: Bearer <key>" on every request (replacing the
// caller's), and reacts to the status line only, before any body is read, so streamed replies
// pass through untouched:
//
//   - 429 cools the key (for retry-after-ms, Retry-After in seconds or as an HTTP date, or the
//     default cooldown) and re-sends the request at once with another key;
//   - 401, 403, and an error whose code or type is insufficient_quota (OpenAI sends it as a 429)
//     take the key out until Reset, and re-send with the next key;
//   - every other answer (2xx, 400, 404, 422, 5xx…) is returned as it is: it is not the key's
//     fault.
//
// When every key is cooling, a request waits for the first to recover if that is within
// MaxWait (and its context allows), else it fails with an [*ExhaustedError] naming the keys by
// fingerprint. A request is never sent with a key that is known to be cooling or taken out.
//
// With the openai-go SDK: the SDK never sees a 429, 401 or 403 that the pool could handle, so it
// never sleeps on a Retry-After the pool already honoured. An exhausted pool is an error returned
// by RoundTrip (errors.As finds the *ExhaustedError through the SDK and net/http wrappers); the
// SDK retries transport errors twice after about 0.5 s and 1 s, and the pool answers those
// retries (requests carrying X-Stainless-Retry-Count ≥ 1) without waiting again, so a call to
// an exhausted pool ends within MaxWait plus about 1.5 s. 5xx answers go back to the SDK, whose
// retries then get the next key in turn.
//
// State: with [WithStateDir], and by default inside a GoNB kernel ($GONB_TMP_DIR/.gonbchat/keypool,
// since every cell is a new process) the rotation position, cooldowns, taken-out keys and use counts live in one JSON file
// per pool, locked and replaced atomically, so every process and every Pool with the same name
// shares them. The file names keys by fingerprint only ([secret.Fingerprint]); nothing the pool
// prints, returns or notifies ever holds a key.
package keypool

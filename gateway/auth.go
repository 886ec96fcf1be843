package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gonbchat/gonbchat/gateway/ledger"
)

// authenticator names the student behind a request: by a token the teacher issued (stored
// hashed in the ledger), or by a JupyterHub API token, checked against the Hub's
// GET {hub_api}/user and cached briefly.
type authenticator struct {
	ledger *ledger.Ledger
	hubAPI string
	client *http.Client
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]hubEntry // by token hash
}

type hubEntry struct {
	name    string // "" for a refused token
	expires time.Time
}

// negativeTTL is how long a token the Hub refused stays refused without asking again.
const negativeTTL = 5 * time.Second

// maxCache bounds the Hub cache; past it, expired entries are dropped.
const maxCache = 10000

// bearer extracts the token of "Authorization: Bearer X" (or JupyterHub's "token X").
func bearer(r *http.Request) string {
	a := strings.TrimSpace(r.Header.Get("Authorization"))
	for _, scheme := range []string{"Bearer ", "bearer ", "token ", "Token "} {
		if t, ok := strings.CutPrefix(a, scheme); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

// student returns the student's name, or an error for the student.
func (a *authenticator) student(ctx context.Context, r *http.Request) (string, *apiError) {
	tok := bearer(r)
	if tok == "" {
		return "", errUnauthorized(a.hubAPI != "")
	}
	if strings.HasPrefix(tok, ledger.TokenPrefix) {
		name, err := a.ledger.TokenOwner(ctx, tok)
		if err != nil {
			return "", errInternal("its database could not be read")
		}
		if name == "" {
			return "", errUnauthorized(a.hubAPI != "")
		}
		return name, nil
	}
	if a.hubAPI == "" {
		return "", errUnauthorized(false)
	}
	return a.hubUser(ctx, tok)
}

func (a *authenticator) hubUser(ctx context.Context, tok string) (string, *apiError) {
	key := ledger.HashToken(tok)
	now := a.now()
	a.mu.Lock()
	e, ok := a.cache[key]
	a.mu.Unlock()
	if ok && now.Before(e.expires) {
		if e.name == "" {
			return "", errUnauthorized(true)
		}
		return e.name, nil
	}
	name, refused, err := a.askHub(ctx, tok)
	if err != nil {
		return "", &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "hub_unreachable", Retry: true,
			Message: "The class gateway could not reach JupyterHub to check your token; try again in a moment."}
	}
	ttl := a.ttl
	if refused {
		ttl = negativeTTL
	}
	a.mu.Lock()
	if len(a.cache) >= maxCache {
		for k, v := range a.cache {
			if !now.Before(v.expires) {
				delete(a.cache, k)
			}
		}
	}
	a.cache[key] = hubEntry{name: name, expires: now.Add(ttl)}
	a.mu.Unlock()
	if refused {
		return "", errUnauthorized(true)
	}
	return name, nil
}

// askHub asks the Hub who owns tok. refused is true when the Hub says the token is not a
// user's; err is for a Hub that could not answer.
func (a *authenticator) askHub(ctx context.Context, tok string) (name string, refused bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(a.hubAPI, "/")+"/user", nil)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Authorization", "token "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", false, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", true, nil
	case resp.StatusCode != http.StatusOK:
		return "", false, fmt.Errorf("hub answered %s", resp.Status)
	}
	var who struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(body, &who); err != nil {
		return "", false, errors.New("hub answered something that is not a user model")
	}
	// only users' tokens: a service's token is not a student
	if who.Kind != "user" || !ledger.ValidName(who.Name) {
		return "", true, nil
	}
	return who.Name, false, nil
}

package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/vnode-io/vnode/internal/instances/armerr"
)

// Tokens is the set of accepted bearer tokens, each bound to the
// subscriptions it may use; the subscriptions the tokens name are the ones
// the service knows. Only the tokens' SHA-256 digests are kept in memory,
// and tokens are never logged.
type Tokens struct {
	grants []Grant
	// known holds every subscription some token may use, in lower case.
	known map[string]bool
}

// Grant is what one token may use: its subscriptions.
type Grant struct {
	digest [sha256.Size]byte
	// subscriptions are in lower case: ARM's ids are case-insensitive.
	subscriptions map[string]bool
}

// Binding is a token and the subscriptions it may use.
type Binding struct {
	Token         string
	Subscriptions []string
}

// LoadTokens reads a tokens file: one token a line followed by the
// subscriptions it may use, separated by white space
// ("TOKEN SUBSCRIPTION [SUBSCRIPTION...]"); blank lines and lines starting
// with '#' are ignored. At least one token is required. A line with a token
// alone — the format before tokens were bound to subscriptions — is
// refused: binding it to every subscription would keep tenants apart in
// name only.
func LoadTokens(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens file: %w", err)
	}
	var bindings []Binding
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("tokens file %s, line %d: the token names no subscription "+
				"(each line is TOKEN SUBSCRIPTION..., the subscriptions the token may use)", path, n)
		}
		bindings = append(bindings, Binding{Token: fields[0], Subscriptions: fields[1:]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tokens file %s: %w", path, err)
	}
	if len(bindings) == 0 {
		return nil, fmt.Errorf("tokens file %s holds no token", path)
	}
	t, err := NewTokens(bindings...)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return t, nil
}

// NewTokens returns a set holding the given bindings. Each needs a token
// and at least one valid subscription id; a token may appear once.
func NewTokens(bindings ...Binding) (*Tokens, error) {
	t := &Tokens{known: map[string]bool{}}
	seen := map[[sha256.Size]byte]int{}
	for i, b := range bindings {
		if b.Token == "" || len(b.Subscriptions) == 0 {
			return nil, fmt.Errorf("token %d: a token and at least one subscription are required", i+1)
		}
		g := Grant{digest: sha256.Sum256([]byte(b.Token)), subscriptions: map[string]bool{}}
		if j, ok := seen[g.digest]; ok {
			return nil, fmt.Errorf("token %d repeats token %d: list all its subscriptions on one line", i+1, j+1)
		}
		seen[g.digest] = i
		for _, sub := range b.Subscriptions {
			if err := checkSubscriptionID(sub); err != nil {
				return nil, fmt.Errorf("token %d: %s", i+1, err.Message)
			}
			g.subscriptions[strings.ToLower(sub)] = true
			t.known[strings.ToLower(sub)] = true
		}
		t.grants = append(t.grants, g)
	}
	return t, nil
}

// Authenticate checks the request's "Authorization: Bearer" header and
// returns what its token may use.
func (t *Tokens) Authenticate(r *http.Request) (*Grant, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, armerr.New(http.StatusUnauthorized, "AuthenticationFailed",
			"Authentication failed. The 'Authorization' header is missing.")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, armerr.New(http.StatusUnauthorized, "AuthenticationFailedInvalidHeader",
			"Authentication failed. The 'Authorization' header is provided in an invalid format.")
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(token)))
	// Every digest is compared, so the time taken tells nothing of which
	// token (if any) matched.
	found := -1
	for i := range t.grants {
		eq := subtle.ConstantTimeCompare(d[:], t.grants[i].digest[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return nil, armerr.New(http.StatusUnauthorized, "InvalidAuthenticationToken",
			"The access token is invalid.")
	}
	return &t.grants[found], nil
}

// Authorize decides whether g may perform action on scope in subscription,
// as ARM answers: a malformed id is InvalidSubscriptionId (400), one the
// service does not know SubscriptionNotFound (404), and one the token may
// not use AuthorizationFailed (403). It runs before anything is kept for
// the subscription.
func (t *Tokens) Authorize(g *Grant, subscription, action, scope string) *armerr.Error {
	if err := checkSubscriptionID(subscription); err != nil {
		return err
	}
	sub := strings.ToLower(subscription)
	if !t.known[sub] {
		return armerr.New(http.StatusNotFound, "SubscriptionNotFound",
			"The subscription '%s' could not be found.", subscription)
	}
	if !g.subscriptions[sub] {
		return armerr.New(http.StatusForbidden, "AuthorizationFailed",
			"The client does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. "+
				"If access was recently granted, please refresh your credentials.", action, quoted(scope))
	}
	return nil
}

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

// Tokens is the set of accepted bearer tokens. Only their SHA-256 digests
// are kept in memory, and tokens are never logged.
type Tokens struct {
	digests [][sha256.Size]byte
}

// LoadTokens reads a tokens file: one token per line, blank lines and lines
// starting with '#' ignored. At least one token is required.
func LoadTokens(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens file: %w", err)
	}
	t := &Tokens{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t.digests = append(t.digests, sha256.Sum256([]byte(line)))
	}
	if len(t.digests) == 0 {
		return nil, fmt.Errorf("tokens file %s holds no token", path)
	}
	return t, nil
}

// NewTokens returns a set holding the given tokens.
func NewTokens(tokens ...string) *Tokens {
	t := &Tokens{}
	for _, tok := range tokens {
		t.digests = append(t.digests, sha256.Sum256([]byte(tok)))
	}
	return t
}

// Authenticate checks the request's "Authorization: Bearer" header.
func (t *Tokens) Authenticate(r *http.Request) error {
	h := r.Header.Get("Authorization")
	if h == "" {
		return armerr.New(http.StatusUnauthorized, "AuthenticationFailed",
			"Authentication failed. The 'Authorization' header is missing.")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return armerr.New(http.StatusUnauthorized, "AuthenticationFailedInvalidHeader",
			"Authentication failed. The 'Authorization' header is provided in an invalid format.")
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := 0
	for i := range t.digests {
		match |= subtle.ConstantTimeCompare(d[:], t.digests[i][:])
	}
	if match != 1 {
		return armerr.New(http.StatusUnauthorized, "InvalidAuthenticationToken",
			"The access token is invalid.")
	}
	return nil
}

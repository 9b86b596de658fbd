package localcluster

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/api"
	"github.com/vnode-io/vnode/internal/wire"
)

// The service's tokens file binds the virtual node's token to the
// cluster's subscription, the one its client files name; a file of the
// older format (a token alone) is rewritten with the same token.
func TestInstancesTokensBindTheNodeToItsSubscription(t *testing.T) {
	l := layout{t.TempDir()}
	if err := os.MkdirAll(l.instances(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.instancesTokens(), []byte("old-format-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	token, sub, err := writeInstancesTokens(l)
	if err != nil {
		t.Fatal(err)
	}
	if token != "old-format-token" {
		t.Errorf("token %q, want the one kept from the older file", token)
	}
	tokens, err := api.LoadTokens(l.instancesTokens())
	if err != nil {
		t.Fatalf("the service refuses the tokens file: %v", err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	g, err := tokens.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Authorize(g, sub, "read", "/subscriptions/"+sub); err != nil {
		t.Errorf("the node's token may not use the cluster's subscription: %v", err)
	}

	if err := os.MkdirAll(l.pki(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.pki(), "ca.crt"), []byte("ca"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{}
	cfg.Ports.Instances = 8443
	if err := writeInstancesClient(l, cfg); err != nil {
		t.Fatal(err)
	}
	files, err := wire.LoadClientFiles(l.instances())
	if err != nil {
		t.Fatal(err)
	}
	if files.Token != token || files.Subscription != sub {
		t.Errorf("client files: token %q subscription %q, want %q %q", files.Token, files.Subscription, token, sub)
	}
	// A second start keeps both.
	token2, sub2, err := writeInstancesTokens(l)
	if err != nil || token2 != token || sub2 != sub {
		t.Errorf("second start: %q %q %v, want %q %q", token2, sub2, err, token, sub)
	}
}

// A fresh state directory gets a random token.
func TestInstancesTokensFresh(t *testing.T) {
	l := layout{t.TempDir()}
	token, sub, err := writeInstancesTokens(l)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) < 32 || len(sub) != 36 {
		t.Errorf("token %q, subscription %q", token, sub)
	}
	if _, err := api.LoadTokens(l.instancesTokens()); err != nil {
		t.Errorf("the service refuses the tokens file: %v", err)
	}
}

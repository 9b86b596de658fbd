// Package apptest runs the container instances service in process for
// tests: the fake runtime, a fresh data directory, a loopback port and one
// token bound to one subscription.
package apptest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/client"
	"github.com/vnode-io/vnode/internal/instances/config"
)

// Start runs the service with token bound to subscription, and edit (nil
// for none) applied to the configuration; the test's cleanup stops it. The
// client files name resource group rg in location local.
func Start(t testing.TB, token, subscription string, edit func(*config.Config)) (*app.Instance, client.Files) {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(token+" "+subscription+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Runtime = "fake"
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.TokensFile = tokens
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Complete(dir); err != nil {
		t.Fatal(err)
	}
	inst, err := app.Start(context.Background(), cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("start service: %v", err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	return inst, client.Files{Endpoint: inst.URL, Token: token, CAFile: inst.CAFile, Subscription: subscription,
		ResourceGroup: "rg", Location: config.DefaultLocation}
}

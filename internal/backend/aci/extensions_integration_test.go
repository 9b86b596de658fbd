package aci_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	utilexec "k8s.io/utils/exec"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/aci"
	"github.com/vnode-io/vnode/internal/syncbuf"
	"github.com/vnode-io/vnode/internal/wire"
)

// announce puts a proxy in front of the service that announces extensions
// as vnode's service does, and returns client files pointing at it.
func announce(t *testing.T, files wire.ClientFiles, extensions string) wire.ClientFiles {
	t.Helper()
	return proxied(t, files, nil, func(r *http.Response) error {
		r.Header.Set("X-Vnode-Extensions", extensions)
		return nil
	})
}

// proxied puts a proxy in front of the service that shows every request to
// observe and every response to modify (each when not nil), and returns
// client files pointing at it.
func proxied(t *testing.T, files wire.ClientFiles, observe func(*http.Request), modify func(*http.Response) error) wire.ClientFiles {
	t.Helper()
	target, err := url.Parse(files.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := files.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			if observe != nil {
				observe(r.In)
			}
			r.SetURL(target)
		},
		Transport: hc.Transport, FlushInterval: -1, ModifyResponse: modify,
	}
	srv := httptest.NewUnstartedServer(proxy)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	// One CA file for the proxy and the service, whose session URIs are direct.
	ca, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	ca = append(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})...)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	files.Endpoint, files.CAFile = srv.URL, caFile
	return files
}

func TestBackendWithExtensions(t *testing.T) {
	files := announce(t, startService(t, nil), "exec-argv,remote-command,logs-follow,stats,grace-period,tcp-socket")
	b, rec := newBackend(t, files)
	ctx := testContext(t)
	w := workload("ext", "1")
	if err := b.Create(ctx, w); err != nil {
		t.Fatalf("create: %v", err)
	}
	rec.waitFor(t, w.Pod.UID, "Running with an IP", running)
	ref := backend.PodRef{UID: w.Pod.UID, Namespace: "default", Name: "ext"}

	var stdout, stderr bytes.Buffer
	if err := b.Exec(ctx, ref, "main", []string{"echo", "two words"}, backend.Streams{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("exec over remote command: %v", err)
	}
	if !strings.Contains(stdout.String(), "two words") {
		t.Errorf("exec output = %q, want the argument kept whole", stdout.String())
	}
	err := b.Exec(ctx, ref, "main", []string{"exit", "4"}, backend.Streams{Stdout: &stdout, Stderr: &stderr})
	var exitErr utilexec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 4 {
		t.Errorf("exec exit 4: err = %v, want an ExitError with code 4", err)
	}

	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var logs syncbuf.Buffer
	if err := b.Logs(fctx, ref, "main", backend.LogOptions{Follow: true}, &logs); err != nil {
		t.Fatalf("follow logs: %v", err)
	}
	if !strings.Contains(logs.String(), "started") {
		t.Errorf("followed logs = %q", logs.String())
	}
	stats, err := b.Stats(ctx)
	if err != nil || len(stats) != 1 || len(stats[0].Containers) != 1 || stats[0].Containers[0].WorkingSetBytes == 0 ||
		stats[0].Containers[0].UsageBytes <= stats[0].Containers[0].WorkingSetBytes || stats[0].Containers[0].RSSBytes == 0 {
		t.Errorf("stats = %+v, %v", stats, err)
	} else if n := stats[0].Network; n == nil || n.Interface != "eth0" || n.RxBytes == 0 || n.TxBytes == 0 {
		t.Errorf("network stats = %+v", n)
	}
	if err := b.Delete(ctx, w.Pod.UID, 0); err != nil {
		t.Fatalf("delete: %v", err)
	}
	rec.waitFor(t, w.Pod.UID, "every container terminated", (*backend.PodState).AllTerminated)
}

// The agent and the service agree on the extensions: every extension the
// real service announces is one the backend knows, and every one the
// backend knows is announced, so neither side offers what the other
// ignores.
func TestKnownExtensionsMatchTheService(t *testing.T) {
	files := startService(t, nil)
	resp, _ := serviceGET(t, files, "/providers/Microsoft.ContainerInstance/containerGroups")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list groups: %s", resp.Status)
	}
	announced := wire.ParseExtensions(resp.Header.Values(wire.ExtensionsHeader)...)
	if len(announced) == 0 {
		t.Fatalf("the service announced no extensions in %s", wire.ExtensionsHeader)
	}
	known := aci.KnownExtensions()
	for _, n := range announced {
		if !slices.Contains(known, n) {
			t.Errorf("the service offers extension %q, which the agent does not know: add it to aci.KnownExtensions and use it, "+
				"or stop announcing it", n)
		}
	}
	for _, n := range known {
		if !slices.Contains(announced, n) {
			t.Errorf("the agent knows extension %q, which the service does not announce (it announces %q): "+
				"announce it in wire.Extensions, or drop it from aci.KnownExtensions", n, announced)
		}
	}
}

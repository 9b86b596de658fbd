package app_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/app/apptest"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/serving/servingtest"
	"github.com/vnode-io/vnode/internal/wire"
)

const (
	testToken = "app-test-token-3c5e"
	testSub   = "00000000-0000-0000-0000-0000000a9901"
	// wait bounds every wait; the limits under test are far shorter.
	wait = 30 * time.Second
)

// startService runs the service with the fake runtime, its configuration
// changed by edit, and returns it with a TLS configuration that trusts it.
func startService(t *testing.T, edit func(*config.Config)) (*app.Instance, *tls.Config) {
	t.Helper()
	inst, _ := apptest.Start(t, testToken, testSub, edit)
	pem, err := os.ReadFile(inst.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return inst, &tls.Config{RootCAs: pool}
}

func dialTLS(t *testing.T, inst *app.Instance, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", strings.TrimPrefix(inst.URL, "https://"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	return c
}

// An idle keep-alive connection is closed after http.idleTimeoutSeconds.
func TestIdleConnectionsAreClosed(t *testing.T) {
	inst, tlsCfg := startService(t, func(c *config.Config) { c.HTTP.IdleTimeoutSeconds = 1 })
	servingtest.CheckIdleClose(t, dialTLS(t, inst, tlsCfg))
}

// A body that does not arrive within http.bodyTimeoutSeconds is answered
// 408, even with a valid token.
func TestSlowBodiesAreCut(t *testing.T) {
	inst, tlsCfg := startService(t, func(c *config.Config) { c.HTTP.BodyTimeoutSeconds = 1 })
	c := dialTLS(t, inst, tlsCfg)
	path := "/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/slow?api-version=" + wire.APIVersion
	req := "PUT " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken +
		"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"location\":"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || armCode(t, body) != "RequestTimeout" {
		t.Errorf("slow body: %d %s, want 408 RequestTimeout", resp.StatusCode, body)
	}
}

// TLS 1.2 offers only ECDHE AEAD suites: a client that speaks only
// CBC-SHA1 fails the handshake.
func TestTLSRefusesCBCSuites(t *testing.T) {
	inst, tlsCfg := startService(t, nil)
	servingtest.CheckSuites(t, strings.TrimPrefix(inst.URL, "https://"), tlsCfg,
		[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
		[]uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384})
}

// A body past ARM's 4 MB is answered 413 with the whole ARM error, over
// HTTP/2 as over HTTP/1.1.
func TestTooLargeBodyAnswerArrives(t *testing.T) {
	inst, tlsCfg := startService(t, nil)
	path := inst.URL + "/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/big?api-version=" + wire.APIVersion
	for _, tc := range []struct{ h2, declared bool }{{true, true}, {true, false}, {false, true}, {false, false}} {
		h2 := tc.h2
		tr := &http.Transport{TLSClientConfig: tlsCfg.Clone(), ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		hc := &http.Client{Transport: tr, Timeout: wait}
		var content io.Reader = bytes.NewReader(bytes.Repeat([]byte(" "), 6<<20))
		if !tc.declared {
			content = io.MultiReader(content) // no length known: the service reads up to its limit
		}
		req, err := http.NewRequest(http.MethodPut, path, content)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("HTTP/2 %v: %v", h2, err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || armCode(t, body) != "RequestEntityTooLarge" {
			t.Errorf("%s: %d %q %v, want 413 RequestEntityTooLarge", resp.Proto, resp.StatusCode, body, err)
		}
		if h2 && resp.ProtoMajor != 2 {
			t.Errorf("answered over %s, want HTTP/2", resp.Proto)
		}
		tr.CloseIdleConnections()
	}
}

func armCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct{ Error struct{ Code string } }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("not an ARM error: %q", body)
	}
	return e.Error.Code
}

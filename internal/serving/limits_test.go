package serving

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/serving/servingtest"
)

// wait bounds every wait of these tests; the limits under test are far
// shorter, so reaching it means the limit did not act.
const wait = 20 * time.Second

// start serves h within l on loopback (plain HTTP).
func start(t *testing.T, h http.Handler, l Limits) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = NewServer(h, l)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	return c
}

// A keep-alive connection with no request is closed after IdleTimeout.
func TestIdleConnectionsAreClosed(t *testing.T) {
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		Limits{IdleTimeout: 100 * time.Millisecond})
	servingtest.CheckIdleClose(t, dial(t, addr))
}

// A body that does not arrive within BodyTimeout fails the handler's
// reads, and the connection is let go.
func TestSlowBodiesAreCut(t *testing.T) {
	readErr := make(chan error, 1)
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		w.WriteHeader(http.StatusRequestTimeout)
	}), Limits{BodyTimeout: 100 * time.Millisecond})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("reading the slow body: %v, want a deadline error", err)
		}
	case <-time.After(wait):
		t.Fatal("a slow body held the handler")
	}
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("the connection of a slow body was not closed: %v", err)
	}
}

// Once a body is read, or when there is none, the response may take far
// longer than BodyTimeout: streams are not cut.
func TestResponsesMayOutlastTheBodyTimeout(t *testing.T) {
	const d = 50 * time.Millisecond
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc := http.NewResponseController(w)
		for i := range 4 {
			select {
			case <-time.After(2 * d):
			case <-r.Context().Done():
				return
			}
			_, _ = fmt.Fprintf(w, "%s%d;", body, i)
			_ = rc.Flush()
		}
	}), Limits{BodyTimeout: d})
	for _, tc := range []struct{ method, body string }{{http.MethodGet, ""}, {http.MethodPost, "x"}} {
		req, err := http.NewRequest(tc.method, "http://"+addr+"/", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if want := fmt.Sprintf("%[1]s0;%[1]s1;%[1]s2;%[1]s3;", tc.body); err != nil || string(got) != want {
			t.Errorf("%s: %q %v, want %q", tc.method, got, err, want)
		}
	}
}

// Headers past MaxHeaderBytes are refused.
func TestLargeHeadersAreRefused(t *testing.T) {
	addr := start(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Limits{MaxHeaderBytes: 4 << 10})
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers: %d, want 431", resp.StatusCode)
	}
}

// Only ECDHE AEAD suites are offered for TLS 1.2: a client that speaks
// only CBC with SHA-1 fails the handshake; AES-GCM and TLS 1.3 succeed.
func TestTLSOffersModernSuitesOnly(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = TLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg := &tls.Config{RootCAs: pool, ServerName: "example.com"}
	addr := srv.Listener.Addr().String()
	servingtest.CheckSuites(t, addr, cfg,
		[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256},
		[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256})
	for _, v := range []struct {
		version uint16
		ok      bool
	}{{tls.VersionTLS11, false}, {tls.VersionTLS13, true}} {
		c := cfg.Clone()
		c.MinVersion, c.MaxVersion = v.version, v.version
		conn, err := tls.Dial("tcp", addr, c)
		if err == nil {
			_ = conn.Close()
		}
		if (err == nil) != v.ok {
			t.Errorf("%s: handshake error %v", tls.VersionName(v.version), err)
		}
	}
}

package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// certRef names a client certificate pair in the state directory.
type certRef struct {
	dir, name string
}

// probe is a readiness check: a GET whose answer has status (200 when
// zero) and contains body. Without a CA the URL is plain HTTP.
type probe struct {
	url    string
	ca     string  // CA bundle that verifies the server
	cert   certRef // client certificate; none when empty
	body   string
	status int
}

// client builds an HTTP client that trusts the probe's CA and presents its
// client certificate.
func (p probe) client() (*http.Client, error) {
	if p.ca == "" {
		return &http.Client{Timeout: 5 * time.Second,
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}, nil
	}
	caPEM, err := os.ReadFile(p.ca)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", p.url, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("probe %s: no certificate in %s", p.url, p.ca)
	}
	tlsConfig := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if p.cert.name != "" {
		base := filepath.Join(p.cert.dir, p.cert.name)
		pair, err := tls.LoadX509KeyPair(base+".crt", base+".key")
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", p.url, err)
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConfig, DisableKeepAlives: true},
	}, nil
}

// check runs the probe once with client.
func (p probe) check(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	want := p.status
	if want == 0 {
		want = http.StatusOK
	}
	if resp.StatusCode != want || !strings.Contains(string(body), p.body) {
		return fmt.Errorf("%s answered %d: %s", p.url, resp.StatusCode, firstLine(string(body)))
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

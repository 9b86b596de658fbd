package cri

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// hookOutputLimit bounds what the runtime keeps of a hook's output and
// reads of a hook's response body, as the kubelet reads at most 10 KiB.
const hookOutputLimit = 10 << 10

// hookUserAgent is the User-Agent of hook requests unless a hook sets one,
// in the kubelet's shape.
const hookUserAgent = "kube-lifecycle/1.37"

// hookTarget is what running a hook needs from its container and group.
// Its functions must be safe to call after the container is gone.
type hookTarget struct {
	// exec runs cmd in the container, writing its output to out.
	exec func(ctx context.Context, cmd []string, out io.Writer) (int, error)
	// dial opens connections from the group's network namespace: every
	// request of an httpGet hook leaves from there.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ip is the group's address, the host of requests that name none.
	ip    string
	clock clock.Clock
	// fellBack is told when an HTTPS request got an HTTP answer and its
	// retry over HTTP succeeded.
	fellBack func(host string)
}

// runHook runs one hook as the kubelet's handler runner does; nil means
// success.
func runHook(ctx context.Context, h *runtime.Hook, t hookTarget) error {
	switch {
	case len(h.Exec) > 0:
		return execHook(ctx, h.Exec, t)
	case h.HTTPGet != nil:
		return httpHook(ctx, h.HTTPGet, t)
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
			return errors.New("container terminated before sleep hook finished")
		case <-t.clock.After(*h.Sleep):
			return nil
		}
	}
	return errors.New("invalid handler: a lifecycle hook takes exec, httpGet or sleep; tcpSocket is not supported")
}

func execHook(ctx context.Context, cmd []string, t hookTarget) error {
	var out limitedBuffer
	code, err := t.exec(ctx, cmd, &out)
	switch {
	case err != nil:
		return fmt.Errorf("exec %q: %w, output %q", cmd, err, out.String())
	case code != 0:
		return fmt.Errorf("exec %q exited with %d, output %q", cmd, code, out.String())
	}
	return nil
}

// httpHook sends the hook's GET request. Any answer is a success, as the
// kubelet takes it; an HTTPS request answered in plain HTTP is sent again
// over HTTP without its Authorization header.
func httpHook(ctx context.Context, h *runtime.HTTPGetHook, t hookTarget) error {
	req, err := hookRequest(ctx, h, t.ip)
	if err != nil {
		return err
	}
	client := hookClient(t.dial)
	defer client.CloseIdleConnections()
	err = doDiscard(client, req)
	if err == nil || req.URL.Scheme != "https" || !strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return err
	}
	retry := req.Clone(ctx)
	retry.URL.Scheme = "http"
	retry.Header.Del("Authorization")
	if doDiscard(client, retry) != nil {
		return err
	}
	if t.fellBack != nil {
		t.fellBack(retry.URL.Host)
	}
	return nil
}

// hookRequest builds the request of an httpGet hook as the kubelet does:
// the path as given, the headers added in order (Host sets the request's
// host), a User-Agent and Accept unless the hook sets them.
func hookRequest(ctx context.Context, h *runtime.HTTPGetHook, ip string) (*http.Request, error) {
	host := h.Host
	if host == "" {
		host = ip
	}
	if host == "" {
		return nil, errors.New("the group has no IP address")
	}
	scheme := strings.ToLower(h.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	u, err := url.Parse(h.Path)
	if err != nil {
		u = &url.URL{Path: h.Path}
	}
	u.Scheme, u.Host = scheme, net.JoinHostPort(host, strconv.Itoa(int(h.Port)))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("hook request: %w", err)
	}
	for _, hd := range h.Headers {
		req.Header.Add(hd.Name, hd.Value)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", hookUserAgent)
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	} else if req.Header.Get("Accept") == "" {
		req.Header.Del("Accept")
	}
	req.Host = req.Header.Get("Host")
	return req, nil
}

// hookClient sends hook requests over dial only: no proxy of the service's
// environment, no certificate checks (the kubelet has nothing to check them
// against), redirects followed only to the same host.
func hookClient(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DialContext: dial, Proxy: nil, DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // hooks do not verify, as the kubelet's
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		},
	}
}

// doDiscard sends req and reads at most hookOutputLimit of the answer.
func doDiscard(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, hookOutputLimit))
	return nil
}

// limitedBuffer keeps the first hookOutputLimit bytes written to it and
// drops the rest; it is safe for concurrent writes (stdout and stderr).
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := hookOutputLimit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

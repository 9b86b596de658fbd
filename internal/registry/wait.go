package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/vnode-io/vnode/internal/process"
)

const (
	// pollInterval is how often Start looks at the log and probes /v2/.
	pollInterval = 50 * time.Millisecond
	// probeTimeout bounds one GET /v2/.
	probeTimeout = 2 * time.Second
	// listeningMsg starts the message distribution logs right after it
	// has bound its address, followed by the address itself.
	listeningMsg = `msg="listening on `
)

// waitReady waits until the registry has logged the address it listens
// on (in the log written since logOffset) and answers GET /v2/ as
// expected. It fails as soon as the process exits or ctx ends.
func (r *Registry) waitReady(ctx context.Context, logOffset int64) error {
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   probeTimeout,
	}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	lastErr := errors.New("the registry has not logged its listening address yet")
	for {
		if r.proc.Exited() {
			return r.exitError(logOffset)
		}
		if r.addr == "" {
			r.addr = listeningAddr(r.cfg.logPath(), logOffset)
		}
		if r.addr != "" {
			if lastErr = r.probe(ctx, client); lastErr == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last check: %v); log %s:\n%s",
				ctx.Err(), lastErr, r.cfg.logPath(), process.Tail(r.cfg.logPath(), logTailLines))
		case <-r.proc.Done():
		case <-ticker.C:
		}
	}
}

// probe checks that GET /v2/ is answered by a distribution registry with
// the status its configuration implies: 200 when open, 401 with auth.
func (r *Registry) probe(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/v2/", nil)
	if err != nil {
		return fmt.Errorf("probe registry: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe registry: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	want := http.StatusOK
	if r.cfg.auth() {
		want = http.StatusUnauthorized
	}
	if resp.StatusCode != want {
		return fmt.Errorf("probe registry: GET /v2/ answered %s, want %d", resp.Status, want)
	}
	if v := resp.Header.Get("Docker-Distribution-Api-Version"); v != "registry/2.0" {
		return fmt.Errorf("probe registry: GET /v2/ answered without Docker-Distribution-Api-Version registry/2.0 (got %q)", v)
	}
	return nil
}

// exitError describes a registry that exited before it was ready.
func (r *Registry) exitError(logOffset int64) error {
	tail := process.Tail(r.cfg.logPath(), logTailLines)
	err := fmt.Errorf("registry exited before it was ready (%v); log %s:\n%s", r.proc.Err(), r.cfg.logPath(), tail)
	if logContains(r.cfg.logPath(), logOffset, "address already in use") {
		return fmt.Errorf("%w: %w", ErrAddrInUse, err)
	}
	return err
}

// listeningAddr returns the address in the registry's "listening on"
// log line written since offset, or "" when there is none yet.
func listeningAddr(path string, offset int64) string {
	var addr string
	scanLog(path, offset, func(line string) bool {
		i := strings.Index(line, listeningMsg)
		if i < 0 {
			return true
		}
		rest := line[i+len(listeningMsg):]
		if j := strings.IndexByte(rest, '"'); j > 0 {
			if _, _, err := net.SplitHostPort(rest[:j]); err == nil {
				addr = rest[:j]
				return false
			}
		}
		return true
	})
	return addr
}

// logContains reports whether the log written since offset contains s.
func logContains(path string, offset int64, s string) bool {
	found := false
	scanLog(path, offset, func(line string) bool {
		found = strings.Contains(line, s)
		return !found
	})
	return found
}

// scanLog calls fn with each line of the file at path from offset on,
// until fn returns false.
func scanLog(path string, offset int64, fn func(line string) bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if !fn(sc.Text()) {
			return
		}
	}
}

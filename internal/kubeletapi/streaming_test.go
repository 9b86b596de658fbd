package kubeletapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// userTransport authenticates every request as admin for headerAuth.
type userTransport struct{ next http.RoundTripper }

func (u userTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "User admin")
	return u.next.RoundTrip(r)
}

func TestExecOverSPDY(t *testing.T) {
	f := newFixture(t)
	cfg := &rest.Config{Host: f.server.URL}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return userTransport{rt} })
	tests := []struct {
		cmd    []string
		stdin  string
		stdout string
		code   int
	}{
		{cmd: []string{"echo", "hello", "world"}, stdout: "hello world\n"},
		{cmd: []string{"cat"}, stdin: "piped\n", stdout: "piped\n"},
		{cmd: []string{"sh", "-c", "echo partial; exit 7"}, stdout: "partial\n", code: 7},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.cmd, " "), func(t *testing.T) {
			q := url.Values{"command": tt.cmd, "output": {"1"}, "error": {"1"}}
			if tt.stdin != "" {
				q.Set("input", "1")
			}
			u, _ := url.Parse(f.server.URL + "/exec/ns/p/app?" + q.Encode())
			exec, err := remotecommand.NewSPDYExecutor(cfg, http.MethodPost, u)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			opts := remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}
			if tt.stdin != "" {
				opts.Stdin = strings.NewReader(tt.stdin)
			}
			err = exec.StreamWithContext(context.Background(), opts)
			code := 0
			var exitErr utilexec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitStatus()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || stdout.String() != tt.stdout {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
			}
		})
	}
}

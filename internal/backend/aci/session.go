package aci

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// StreamSession connects to an exec or attach session (the webSocketUri
// and password of an exec or attach answer) over Kubernetes' remote command
// protocol on SPDY, a vnode extension of ACI's websocket protocol: opts'
// stdin, stdout and stderr stay separate, the terminal can be resized, and
// a command that exits non-zero returns an error that satisfies
// k8s.io/client-go/util/exec.ExitError with its code. caFile verifies the
// service (empty: the system's roots).
func StreamSession(ctx context.Context, sessionURI, password, caFile string, opts remotecommand.StreamOptions) error {
	u, err := url.Parse(sessionURI)
	if err != nil {
		return fmt.Errorf("session URI %q: %w", sessionURI, err)
	}
	switch u.Scheme {
	case "wss":
		u.Scheme = "https"
	case "ws":
		u.Scheme = "http"
	}
	q := u.Query()
	set := func(name string, on bool) {
		if on {
			q.Set(name, "1")
		}
	}
	set("input", opts.Stdin != nil)
	set("output", opts.Stdout != nil)
	set("error", opts.Stderr != nil && !opts.Tty)
	set("tty", opts.Tty)
	u.RawQuery = q.Encode()
	cfg := &rest.Config{Host: u.Scheme + "://" + u.Host, BearerToken: strings.TrimSpace(password)}
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read the service's CA: %w", err)
		}
		cfg.TLSClientConfig.CAData = ca
	}
	exe, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return fmt.Errorf("connect to session: %w", err)
	}
	return exe.StreamWithContext(ctx, opts)
}

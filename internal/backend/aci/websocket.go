package aci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/util/exec"

	"github.com/vnode-io/vnode/internal/backend"
)

// wsSession speaks ACI's exec/attach websocket: the password as the first
// text frame, stdin as binary frames, output as the service's frames, and
// the exit code in the close frame's reason ("exit code N"). stdout and
// stderr arrive merged, on stdout.
func wsSession(ctx context.Context, uri, password, caFile string, s backend.Streams) error {
	d := websocket.Dialer{}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read the service's CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("no certificate in %s", caFile)
		}
		d.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	conn, resp, err := d.DialContext(ctx, uri, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("connect to session: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(password)); err != nil {
		return fmt.Errorf("session: send password: %w", err)
	}
	if s.Stdin != nil {
		go pumpStdin(conn, s.Stdin)
	}
	out := s.Stdout
	if out == nil {
		out = s.Stderr
	}
	if out == nil {
		out = io.Discard
	}
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return sessionEnd(ctx, err)
		}
		if _, err := out.Write(data); err != nil {
			return fmt.Errorf("session: write output: %w", err)
		}
	}
}

// pumpStdin sends stdin as binary frames until it ends.
func pumpStdin(conn *websocket.Conn, in io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if werr := conn.WriteMessage(websocket.BinaryMessage, buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// sessionEnd turns the end of a session into its result: nil for exit
// code 0, an exec.CodeExitError for another code.
func sessionEnd(ctx context.Context, err error) error {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("session: %w", err)
	}
	if ce.Code != websocket.CloseNormalClosure {
		return fmt.Errorf("session ended: %s (code %d)", ce.Text, ce.Code)
	}
	code, ok := exitCode(ce.Text)
	if !ok || code == 0 {
		return nil
	}
	return exec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
}

// exitCode reads "exit code N".
func exitCode(reason string) (int, bool) {
	v, ok := strings.CutPrefix(strings.TrimSpace(reason), "exit code ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	return n, err == nil
}

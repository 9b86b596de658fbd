package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/service"
)

// remoteCommandProtocols are the SPDY subprotocols of Kubernetes' remote
// command protocol that sessions speak, newest first.
var remoteCommandProtocols = []string{
	remotecommand.StreamProtocolV4Name, remotecommand.StreamProtocolV3Name,
	remotecommand.StreamProtocolV2Name, remotecommand.StreamProtocolV1Name,
}

// streamCreationTimeout bounds the wait for a client's streams.
const streamCreationTimeout = 30 * time.Second

// isRemoteCommand reports whether a session request speaks Kubernetes'
// remote command protocol (what the kubelet's exec and attach endpoints
// speak: SPDY, or websockets with a channel.k8s.io subprotocol) rather
// than ACI's websocket protocol.
func isRemoteCommand(r *http.Request) bool {
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Upgrade")), "spdy/") {
		return true
	}
	for _, p := range websocket.Subprotocols(r) {
		if strings.HasSuffix(p, "channel.k8s.io") {
			return true
		}
	}
	return false
}

// serveRemoteCommand runs an exec or attach session over Kubernetes' remote
// command protocol, a vnode extension for clients such as a virtual
// kubelet: the session's password comes as a bearer token; the query
// parameters input, output, error and tty (=1) choose the streams, as on
// a CRI streaming server; stdout and stderr stay apart, the terminal can
// be resized, and exec reports the command's exit code in the protocol's
// status.
func (s *Server) serveRemoteCommand(w http.ResponseWriter, r *http.Request, id string) {
	password, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		armerr.Write(w, armerr.New(http.StatusUnauthorized, "AuthenticationFailed",
			"The session's password must be sent as a bearer token."))
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		armerr.Write(w, armerr.BadRequest("InvalidParameter", "input",
			"Choose at least one stream with input=1, output=1 or error=1: %v", err))
		return
	}
	sess, err := s.svc.ClaimSession(id, strings.TrimSpace(password))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		armerr.Write(w, armerr.New(http.StatusUnauthorized, "AuthenticationFailed",
			"The exec or attach session does not exist, has expired or was given another password."))
		return
	}
	run := &sessionRunner{svc: s.svc, sess: sess}
	if sess.Command == nil {
		remotecommand.ServeAttach(w, r, run, "", "", sess.Container, opts, 0, streamCreationTimeout, remoteCommandProtocols)
		return
	}
	remotecommand.ServeExec(w, r, run, "", "", sess.Container, sess.Command, opts, 0, streamCreationTimeout, remoteCommandProtocols)
}

// sessionRunner runs a claimed session for the remote command server.
type sessionRunner struct {
	svc  *service.Service
	sess *service.Session
}

// ExecInContainer runs the session's command (the one its exec request
// gave; cmd is the same) and turns a non-zero exit into an ExitError.
func (x *sessionRunner) ExecInContainer(ctx context.Context, _, _, _ string, _ []string, in io.Reader, out, stderr io.WriteCloser,
	tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	code, err := x.svc.RunClaimed(ctx, x.sess, streams(ctx, in, out, stderr, tty, resize))
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// AttachContainer connects the streams to the container's main process.
func (x *sessionRunner) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, stderr io.WriteCloser,
	tty bool, resize <-chan remotecommand.TerminalSize) error {
	_, err := x.svc.RunClaimed(ctx, x.sess, streams(ctx, in, out, stderr, tty, resize))
	return err
}

// streams converts the remote command server's streams; absent ones stay
// nil interfaces.
func streams(ctx context.Context, in io.Reader, out, stderr io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) runtime.Streams {
	s := runtime.Streams{TTY: tty}
	if in != nil {
		s.Stdin = in
	}
	if out != nil {
		s.Stdout = out
	}
	if stderr != nil {
		s.Stderr = stderr
	}
	if resize != nil {
		sizes := make(chan runtime.TerminalSize)
		go func() {
			defer close(sizes)
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					select {
					case sizes <- runtime.TerminalSize{Rows: sz.Height, Cols: sz.Width}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		s.Resize = sizes
	}
	return s
}

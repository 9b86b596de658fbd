package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/service"
)

// sessionPrefix is the path under which exec and attach websockets are served.
const sessionPrefix = "/ws/sessions/"

// passwordTimeout bounds the wait for the client's password frame.
const passwordTimeout = 30 * time.Second

// Frames larger than these are refused (close 1009, message too big)
// before they are buffered: a password is short, and clients send stdin in
// small pieces.
const (
	maxPasswordFrame = 4 << 10
	maxStdinFrame    = 1 << 20
)

func sessionPath(path string) (string, bool) {
	if !strings.HasPrefix(path, sessionPrefix) {
		return "", false
	}
	id := strings.TrimPrefix(path, sessionPrefix)
	return id, id != "" && !strings.Contains(id, "/")
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	// The session password authenticates; browsers' origins do not matter.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveSession runs an exec or attach session over a websocket, as ACI
// does: the client's first text frame is the password; then the client's
// frames are the process's stdin and the server's binary frames its output.
// The server closes with a normal closure whose reason carries the exit code.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, id string) {
	if !s.svc.SessionExists(id) {
		armerr.Write(w, armerr.New(http.StatusNotFound, "SessionNotFound",
			"The exec or attach session does not exist or has expired; request a new one."))
		return
	}
	if isRemoteCommand(r) {
		s.serveRemoteCommand(w, r, id)
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the client
	}
	defer conn.Close()
	conn.SetReadLimit(maxPasswordFrame)
	_ = conn.SetReadDeadline(time.Now().Add(passwordTimeout))
	_, pw, err := conn.ReadMessage()
	if err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	conn.SetReadLimit(maxStdinFrame)

	out := &wsWriter{conn: conn}
	stdin, stdinW := io.Pipe()
	go pumpStdin(conn, stdinW)
	code, err := s.svc.RunSession(r.Context(), id, strings.TrimSpace(string(pw)),
		runtime.Streams{Stdin: stdin, Stdout: out, Stderr: out})
	// EOF for whoever still reads stdin (the process has ended).
	_ = stdinW.Close()
	var reason string
	switch {
	case errors.Is(err, service.ErrSessionRefused):
		out.close(websocket.ClosePolicyViolation, "authentication failed")
		return
	case err != nil:
		s.log.Info("session ended with an error", "session", id, "err", err)
		out.close(websocket.CloseInternalServerErr, truncate(err.Error(), 100))
		return
	default:
		reason = fmt.Sprintf("exit code %d", code)
	}
	out.close(websocket.CloseNormalClosure, reason)
}

// pumpStdin copies the client's frames into the process's stdin until the
// client closes.
func pumpStdin(conn *websocket.Conn, w *io.PipeWriter) {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			_ = w.Close()
			return
		}
		if _, err := w.Write(data); err != nil {
			return
		}
	}
}

// wsWriter sends the process's output as binary frames; writes are
// serialised because stdout and stderr share it.
type wsWriter struct {
	mu     sync.Mutex
	conn   *websocket.Conn
	closed bool
}

func (w *wsWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, io.ErrClosedPipe
	}
	if err := w.conn.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *wsWriter) close(code int, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	msg := websocket.FormatCloseMessage(code, reason)
	_ = w.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// MaxLogBytes is the most log content returned for a container (ACI: 4 MB).
const MaxLogBytes = 4 << 20

// sessionTTL is how long an exec or attach URI stays valid before use.
const sessionTTL = 2 * time.Minute

// containerRef resolves a running group's runtime id and checks the
// container exists in its spec.
func (s *Service) containerRef(ref Ref, container string) (uid string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[ref.key()]
	if g == nil {
		return "", armerr.NotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	for _, c := range g.spec.Properties.Containers {
		if c != nil && c.Name != nil && *c.Name == container {
			return g.uid, nil
		}
	}
	for _, c := range g.spec.Properties.InitContainers {
		if c != nil && c.Name != nil && *c.Name == container {
			return g.uid, nil
		}
	}
	return "", armerr.New(http.StatusNotFound, "ContainerNotFound",
		"The container '%s' is not found in container group '%s'.", container, ref.Name)
}

// Logs returns the tail of a container's log (at most MaxLogBytes).
func (s *Service) Logs(ctx context.Context, ref Ref, container string, opts runtime.LogOptions) (string, error) {
	uid, err := s.containerRef(ref, container)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := s.rt.Logs(ctx, uid, container, opts, &buf); err != nil {
		if errors.Is(err, runtime.ErrNotFound) {
			return "", nil // not started yet, or stopped: no log
		}
		return "", fmt.Errorf("read log of %s/%s: %w", ref.Name, container, err)
	}
	b := buf.Bytes()
	if len(b) > MaxLogBytes {
		b = b[len(b)-MaxLogBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b), nil
}

// Session is an exec or attach session handed out as webSocketUri + password.
type Session struct {
	ID        string
	Password  string
	GroupUID  string
	Container string
	// Command is nil for attach.
	Command  []string
	TTY      bool
	Size     runtime.TerminalSize
	expireAt time.Time
}

// sessions holds the sessions not yet connected.
type sessions struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	byID  map[string]*Session
}

func newSessions(clk clock.PassiveClock) *sessions {
	return &sessions{clock: clk, byID: map[string]*Session{}}
}

func (ss *sessions) add(sess *Session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.clock.Now()
	for id, x := range ss.byID {
		if now.After(x.expireAt) {
			delete(ss.byID, id)
		}
	}
	sess.expireAt = now.Add(sessionTTL)
	ss.byID[sess.ID] = sess
}

// pending reports whether id names a session not yet claimed nor expired.
func (ss *sessions) pending(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess := ss.byID[id]
	return sess != nil && !ss.clock.Now().After(sess.expireAt)
}

// claim forgets the session and returns it if it had not expired and
// password matches. Any attempt uses the session up, so a password cannot
// be guessed by retrying.
func (ss *sessions) claim(id, password string) (*Session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess := ss.byID[id]
	if sess == nil {
		return nil, false
	}
	delete(ss.byID, id)
	if ss.clock.Now().After(sess.expireAt) ||
		subtle.ConstantTimeCompare([]byte(sess.Password), []byte(password)) != 1 {
		return nil, false
	}
	return sess, true
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewExec prepares an exec session. ACI takes one command string and splits
// it on white space (no shell quoting).
func (s *Service) NewExec(ref Ref, container string, req *aci.ContainerExecRequest) (*Session, error) {
	if req == nil || req.Command == nil || strings.TrimSpace(*req.Command) == "" {
		return nil, armerr.BadRequest("InvalidRequestContent", "command", "The exec request must name a command.")
	}
	sess, err := s.newSession(ref, container)
	if err != nil {
		return nil, err
	}
	sess.Command = strings.Fields(*req.Command)
	if req.TerminalSize != nil {
		sess.TTY = true
		sess.Size = runtime.TerminalSize{Rows: uint16(i32(req.TerminalSize.Rows)), Cols: uint16(i32(req.TerminalSize.Cols))}
	}
	s.sessions.add(sess)
	return sess, nil
}

// NewAttach prepares an attach session to a container's main process.
func (s *Service) NewAttach(ref Ref, container string) (*Session, error) {
	sess, err := s.newSession(ref, container)
	if err != nil {
		return nil, err
	}
	s.sessions.add(sess)
	return sess, nil
}

func (s *Service) newSession(ref Ref, container string) (*Session, error) {
	uid, err := s.containerRef(ref, container)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	g := s.byUID[uid]
	running := false
	for _, c := range g.status.Containers {
		if c.Name == container && c.Current.State == runtime.StateRunning && !g.stopped {
			running = true
		}
	}
	s.mu.Unlock()
	if !running {
		return nil, armerr.New(http.StatusConflict, "ContainerNotRunning",
			"The container '%s' in container group '%s' is not running.", container, ref.Name)
	}
	return &Session{ID: randomToken(18), Password: randomToken(24), GroupUID: uid, Container: container}, nil
}

// ErrSessionRefused is returned for an unknown, expired or wrongly
// authenticated session.
var ErrSessionRefused = errors.New("unknown or expired session, or wrong password")

// RunSession connects streams to a claimed session: exec returns the
// command's exit code, attach returns 0 when the stream ends.
func (s *Service) RunSession(ctx context.Context, id, password string, streams runtime.Streams) (int, error) {
	sess, ok := s.sessions.claim(id, password)
	if !ok {
		return 0, ErrSessionRefused
	}
	if sess.Command == nil {
		return 0, s.rt.Attach(ctx, sess.GroupUID, sess.Container, streams)
	}
	streams.TTY = sess.TTY
	return s.rt.Exec(ctx, sess.GroupUID, sess.Container, sess.Command, streams)
}

// SessionExists reports whether a session id is pending (for the handshake).
func (s *Service) SessionExists(id string) bool { return s.sessions.pending(id) }

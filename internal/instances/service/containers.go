package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
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
		return "", errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
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
	return "", errdefs.New(errdefs.NotFound, "ContainerNotFound",
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
		if errors.Is(err, runtime.ErrNoPreviousLog) {
			return "", noPreviousRun(ref, container)
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

// Stats returns the resource usage of a group's running containers (none
// while it is not running).
func (s *Service) Stats(ctx context.Context, ref Ref) (runtime.GroupStats, error) {
	s.mu.Lock()
	g := s.groups[ref.key()]
	var uid string
	if g != nil {
		uid = g.uid
	}
	s.mu.Unlock()
	if g == nil {
		return runtime.GroupStats{}, errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	st, err := s.rt.Stats(ctx, uid)
	if errors.Is(err, runtime.ErrNotFound) {
		return runtime.GroupStats{Time: s.clock.Now()}, nil
	}
	if err != nil {
		return st, fmt.Errorf("stats of %s: %w", ref.Name, err)
	}
	return st, nil
}

// CheckContainer returns the ARM error for a group or container that does
// not exist, nil when both do.
func (s *Service) CheckContainer(ref Ref, container string) error {
	_, err := s.containerRef(ref, container)
	return err
}

// FollowLogs writes a container's log (opts.Tail and opts.Timestamps
// apply) and then what the container writes next, until its current run
// ends or ctx ends: a vnode extension for kubectl logs -f.
func (s *Service) FollowLogs(ctx context.Context, ref Ref, container string, opts runtime.LogOptions, w io.Writer) error {
	uid, err := s.containerRef(ref, container)
	if err != nil {
		return err
	}
	opts.Follow = true
	if err := s.rt.Logs(ctx, uid, container, opts, w); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		if errors.Is(err, runtime.ErrNoPreviousLog) {
			return noPreviousRun(ref, container)
		}
		return fmt.Errorf("follow log of %s/%s: %w", ref.Name, container, err)
	}
	return nil
}

// noPreviousRun is the answer to a previous log of a container that has not
// been restarted.
func noPreviousRun(ref Ref, container string) error {
	return errdefs.InvalidField("PreviousRunNotFound", "previous",
		"The container '%s' of container group '%s' has no previous run.", container, ref.Name)
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
// it on white space (no shell quoting); argv, a vnode extension, gives the
// command's arguments as they are and takes precedence.
func (s *Service) NewExec(ref Ref, container string, req *aci.ContainerExecRequest, argv []string) (*Session, error) {
	if len(argv) == 0 && (req == nil || req.Command == nil || strings.TrimSpace(*req.Command) == "") {
		return nil, errdefs.InvalidField("InvalidRequestContent", "command", "The exec request must name a command.")
	}
	if len(argv) > 0 && argv[0] == "" {
		return nil, errdefs.InvalidField("InvalidRequestContent", "argv", "The exec request's argv must start with a command name.")
	}
	sess, err := s.newSession(ref, container)
	if err != nil {
		return nil, err
	}
	if len(argv) > 0 {
		sess.Command = argv
	} else {
		sess.Command = strings.Fields(*req.Command)
	}
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
		return nil, errdefs.New(errdefs.Conflict, "ContainerNotRunning",
			"The container '%s' in container group '%s' is not running.", container, ref.Name)
	}
	return &Session{ID: randomToken(18), Password: randomToken(24), GroupUID: uid, Container: container}, nil
}

// ErrSessionRefused is returned for an unknown, expired or wrongly
// authenticated session.
var ErrSessionRefused = errors.New("unknown or expired session, or wrong password")

// RunSession claims a session and connects streams to it as ACI does: the
// terminal is the one the exec request asked for. Exec returns the
// command's exit code, attach returns 0 when the stream ends.
func (s *Service) RunSession(ctx context.Context, id, password string, streams runtime.Streams) (int, error) {
	sess, err := s.ClaimSession(id, password)
	if err != nil {
		return 0, err
	}
	streams.TTY = sess.TTY
	return s.RunClaimed(ctx, sess, streams)
}

// ClaimSession uses up a pending session if password is its own; it
// returns ErrSessionRefused otherwise.
func (s *Service) ClaimSession(id, password string) (*Session, error) {
	sess, ok := s.sessions.claim(id, password)
	if !ok {
		return nil, ErrSessionRefused
	}
	return sess, nil
}

// RunClaimed connects streams, as they are, to a claimed session's exec
// (returning the exit code) or attach.
func (s *Service) RunClaimed(ctx context.Context, sess *Session, streams runtime.Streams) (int, error) {
	if sess.Command == nil {
		return 0, s.rt.Attach(ctx, sess.GroupUID, sess.Container, streams)
	}
	return s.rt.Exec(ctx, sess.GroupUID, sess.Container, sess.Command, streams)
}

// SessionExists reports whether a session id is pending (for the handshake).
func (s *Service) SessionExists(id string) bool { return s.sessions.pending(id) }

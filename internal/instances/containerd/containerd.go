// Package containerd runs the container instances service's private
// containerd and connects to its CRI API.
//
// Everything of that containerd lives under one directory (see Config.Dir),
// apart from what containerd and its shims keep in fixed places: shim
// sockets under /run/containerd/s and, while pods run, the CNI bridge and
// iptables rules. Its gRPC socket is Dir/containerd.sock unless that path is
// too long for a unix socket (see Config.SocketPath).
//
// Stopping containerd (Stop) leaves running pod sandboxes and containers
// alone: their containerd-shim-runc-v2 processes live in process groups of
// their own and outlive containerd by design, so the service can restart
// without disturbing its container groups, and a containerd started again
// on the same Dir picks them up. Cleanup is for tests and uninstall: it
// removes every pod sandbox, stops containerd and unmounts whatever is
// still mounted under Dir.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/process"
)

// Timeouts used when the caller's context has no deadline.
const (
	defaultStartTimeout = 30 * time.Second
	defaultStopGrace    = 10 * time.Second
	pollInterval        = 50 * time.Millisecond
	// maxMsgSize matches the kubelet's CRI client limit.
	maxMsgSize = 16 << 20
)

// Containerd is a running private containerd and a CRI client for it, or
// (from Connect) a client for a containerd that something else runs.
type Containerd struct {
	cfg     Config
	socket  string
	proc    *process.Process // nil when not ours
	conn    *grpc.ClientConn
	runtime runtimeapi.RuntimeServiceClient
	image   runtimeapi.ImageServiceClient
}

// Start writes cfg's configuration, starts containerd and waits until its
// CRI runtime service answers Version, or until ctx ends (30 s when ctx
// has no deadline). containerd logs to Config.LogPath, runs in its own
// process group and is killed by the kernel if this process dies; pods it
// started keep running.
func Start(ctx context.Context, cfg Config) (*Containerd, error) {
	c, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	if err := checkNotRunning(c); err != nil {
		return nil, err
	}
	if err := prepare(c); err != nil {
		return nil, err
	}
	proc, err := process.Start(process.Spec{
		Name:    "containerd",
		Path:    c.Binary,
		Args:    []string{"--config", c.ConfigPath()},
		LogPath: c.LogPath(),
		PidPath: c.PidPath(),
	})
	if err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	d := &Containerd{cfg: c, socket: c.SocketPath(), proc: proc}
	if err := d.connect(); err != nil {
		proc.Stop(defaultStopGrace)
		return nil, err
	}
	if err := d.waitReady(ctx); err != nil {
		d.stop(defaultStopGrace)
		return nil, err
	}
	return d, nil
}

// Connect returns a CRI client for a containerd that runs already, its gRPC
// socket at socket, once it answers Version (within ctx, or 30 s). Stop
// then only closes the connection; Dir is empty.
func Connect(ctx context.Context, socket string) (*Containerd, error) {
	d := &Containerd{socket: socket}
	if err := d.connect(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	if _, err := d.runtime.Version(ctx, &runtimeapi.VersionRequest{}, grpc.WaitForReady(true)); err != nil {
		_ = d.conn.Close()
		return nil, fmt.Errorf("containerd: no CRI runtime answers at %s: %w", socket, err)
	}
	return d, nil
}

// checkNotRunning refuses to start a second containerd on the same Dir.
func checkNotRunning(c Config) error {
	pid, err := process.ReadPid(c.PidPath())
	if err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	if process.Running(pid, c.ConfigPath()) {
		return fmt.Errorf("containerd: already running for %s (pid %d)", c.Dir, pid)
	}
	return nil
}

// prepare writes the configuration and makes sure the socket's directory
// exists.
func prepare(c Config) error {
	if err := WriteConfig(c); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.SocketPath()), 0o711); err != nil {
		return fmt.Errorf("containerd: socket dir: %w", err)
	}
	return nil
}

// connect creates the (lazily connecting) gRPC client.
func (d *Containerd) connect() error {
	conn, err := grpc.NewClient("unix://"+d.socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
		// The socket appears a few tens of milliseconds after start;
		// gRPC's default 1 s first backoff would double the start time.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: pollInterval, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		}),
	)
	if err != nil {
		return fmt.Errorf("containerd: grpc client: %w", err)
	}
	d.conn = conn
	d.runtime = runtimeapi.NewRuntimeServiceClient(conn)
	d.image = runtimeapi.NewImageServiceClient(conn)
	return nil
}

// waitReady polls Version until it answers, containerd exits, or ctx (or
// the default start timeout) ends.
func (d *Containerd) waitReady(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	var lastErr error
	for {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := d.Version(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		if status.Code(errors.Unwrap(err)) == codes.Unimplemented {
			// containerd answers but has no CRI: its plugin failed to load.
			return fmt.Errorf("containerd: CRI plugin not loaded: %w; log %s ends:\n%s",
				err, d.cfg.LogPath(), process.Tail(d.cfg.LogPath(), 20))
		}
		select {
		case <-d.proc.Done():
			return fmt.Errorf("containerd: exited during start (%v); log %s ends:\n%s",
				d.proc.Err(), d.cfg.LogPath(), process.Tail(d.cfg.LogPath(), 20))
		case <-ctx.Done():
			return fmt.Errorf("containerd: not ready: %w (last error: %v); log %s ends:\n%s",
				ctx.Err(), lastErr, d.cfg.LogPath(), process.Tail(d.cfg.LogPath(), 20))
		case <-time.After(pollInterval):
		}
	}
}

// Socket returns the path of containerd's gRPC socket.
func (d *Containerd) Socket() string { return d.socket }

// Dir returns the directory containerd keeps its files in.
func (d *Containerd) Dir() string { return d.cfg.Dir }

// Pid returns containerd's process id, 0 when it is not ours.
func (d *Containerd) Pid() int {
	if d.proc == nil {
		return 0
	}
	return d.proc.Pid()
}

// Done is closed when a containerd this process started has exited; it is
// never closed for one reached with Connect.
func (d *Containerd) Done() <-chan struct{} {
	if d.proc == nil {
		return nil
	}
	return d.proc.Done()
}

// RuntimeClient returns a CRI runtime service client. It shares one
// connection with ImageClient and stops working after Stop.
func (d *Containerd) RuntimeClient() runtimeapi.RuntimeServiceClient { return d.runtime }

// ImageClient returns a CRI image service client.
func (d *Containerd) ImageClient() runtimeapi.ImageServiceClient { return d.image }

// Version returns the CRI Version answer (runtime name and version, CRI
// API version).
func (d *Containerd) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	resp, err := d.runtime.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return nil, fmt.Errorf("containerd: CRI version: %w", err)
	}
	return resp, nil
}

// Stop closes the client connection, sends containerd SIGTERM and, if it
// has not exited when ctx ends (10 s when ctx has no deadline), SIGKILL.
// Running pods and their shims are left running. A containerd reached with
// Connect is left alone.
func (d *Containerd) Stop(ctx context.Context) error {
	return d.stop(graceFrom(ctx))
}

func (d *Containerd) stop(grace time.Duration) error {
	var err error
	if d.conn != nil {
		if cerr := d.conn.Close(); cerr != nil {
			err = fmt.Errorf("containerd: close connection: %w", cerr)
		}
	}
	if d.proc != nil {
		d.proc.Stop(grace)
	}
	return err
}

// graceFrom returns the time left until ctx's deadline, or the default
// grace when there is none.
func graceFrom(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return defaultStopGrace
	}
	return max(time.Until(deadline), 0)
}

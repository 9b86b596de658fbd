package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/vnode-io/vnode/internal/process"
)

// DefaultBinary is the registry executable looked up in PATH when
// Config.Binary is empty (Debian package docker-registry).
const DefaultBinary = "docker-registry"

const (
	// startTimeout bounds Start when ctx has no earlier deadline.
	startTimeout = 30 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// logTailLines is how much of the log errors quote.
	logTailLines = 20
)

// ErrAddrInUse reports that the registry could not listen because another
// process holds its address. Callers that picked the port with FreeAddr
// may pick another and start again.
var ErrAddrInUse = errors.New("address already in use")

// Config describes a registry to start.
type Config struct {
	// Dir holds everything the registry owns: data/ (the storage),
	// config.yml, htpasswd, registry.log and registry.pid. Required.
	Dir string
	// Addr is the host:port to listen on. The host must be loopback
	// (127.0.0.1, ::1 or localhost). Port 0 lets the kernel pick a free
	// port; Registry.Addr reports the one it picked. Required.
	Addr string
	// Username and Password enable htpasswd basic authentication (the
	// password is hashed with HTPasswdBinary); leave both empty for an
	// open registry.
	Username, Password string
	// Binary is the registry executable, DefaultBinary from PATH when empty.
	Binary string
}

// Registry is a running registry process.
type Registry struct {
	cfg  Config
	addr string // the address it listens on, port resolved
	proc *process.Process
}

// Start writes the registry's configuration into cfg.Dir, starts the
// registry and waits until GET /v2/ answers (200 without credentials,
// 401 with). A registry that exits before that fails Start with the
// tail of its log. ctx bounds only the start; Stop ends the registry.
func Start(ctx context.Context, cfg Config) (*Registry, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	bin, err := exec.LookPath(cfg.binary())
	if err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	if err := WriteFiles(ctx, cfg); err != nil {
		return nil, fmt.Errorf("start registry in %s: %w", cfg.Dir, err)
	}
	// A registry left over from a parent that was SIGKILLed before the
	// kernel got to it would hold the storage: end it first.
	if pid, err := process.ReadPid(cfg.pidPath()); err == nil && pid > 0 {
		process.Terminate(pid, cfg.configPath(), stopGrace)
	}
	logOffset := fileSize(cfg.logPath())
	proc, err := process.Start(process.Spec{
		Name:    "registry",
		Path:    bin,
		Args:    cfg.Args(),
		LogPath: cfg.logPath(),
		PidPath: cfg.pidPath(),
	})
	if err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	r := &Registry{cfg: cfg, proc: proc}
	if err := r.waitReady(ctx, logOffset); err != nil {
		proc.Stop(stopGrace)
		return nil, fmt.Errorf("start registry on %s: %w", cfg.Addr, err)
	}
	return r, nil
}

// Addr returns the address the registry listens on, with the port the
// kernel picked when Config.Addr asked for port 0.
func (r *Registry) Addr() string { return r.addr }

// Host returns the registry's host:port as written in image references,
// e.g. "127.0.0.1:5000": the configured host with the listening port.
func (r *Registry) Host() string {
	host, _, _ := net.SplitHostPort(r.cfg.Addr) // validated by Start
	_, port, _ := net.SplitHostPort(r.addr)
	return net.JoinHostPort(host, port)
}

// Auth returns the credentials for go-containerregistry clients:
// basic authentication with the configured user, or anonymous.
func (r *Registry) Auth() authn.Authenticator {
	if r.cfg.Username == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.cfg.Username, Password: r.cfg.Password}
}

// Pid returns the registry's process id.
func (r *Registry) Pid() int { return r.proc.Pid() }

// LogPath returns the registry's log file.
func (r *Registry) LogPath() string { return r.cfg.logPath() }

// Stop sends SIGTERM to the registry, kills it if it has not exited after
// a grace period, and returns once it is gone and its port is free.
// Stopping a stopped registry does nothing.
func (r *Registry) Stop() { r.proc.Stop(stopGrace) }

// FreeAddr returns a loopback address with a port that was free a moment
// ago, for callers that need to know the port before Start (a stable
// address across restarts, or one written into other components'
// configuration). Another process may take the port in between; Start
// then fails with ErrAddrInUse. Callers that can learn the port
// afterwards should give Start port 0 instead.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

func (c Config) validate() error {
	if c.Dir == "" {
		return errors.New("config: Dir is required")
	}
	if (c.Username == "") != (c.Password == "") {
		return errors.New("config: give both Username and Password, or neither")
	}
	if strings.ContainsAny(c.Username, ":\n") || strings.Contains(c.Password, "\n") {
		return errors.New("config: Username may not contain ':' or newlines, Password no newlines")
	}
	return validateAddr(c.Addr)
}

// validateAddr accepts host:port with a loopback host and a numeric port.
func validateAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("config: Addr %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("config: Addr %q: port %q is not a number below 65536", addr, port)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("config: Addr %q: host must be a loopback address or localhost", addr)
	}
	return nil
}

// Args are the registry executable's arguments that serve cfg's files.
func (c Config) Args() []string { return []string{"serve", c.configPath()} }

// LogPath returns the registry's log file under Dir.
func (c Config) LogPath() string { return c.logPath() }

func (c Config) binary() string {
	if c.Binary == "" {
		return DefaultBinary
	}
	return c.Binary
}

func (c Config) dataDir() string      { return filepath.Join(c.Dir, "data") }
func (c Config) configPath() string   { return filepath.Join(c.Dir, "config.yml") }
func (c Config) htpasswdPath() string { return filepath.Join(c.Dir, "htpasswd") }
func (c Config) logPath() string      { return filepath.Join(c.Dir, "registry.log") }
func (c Config) pidPath() string      { return filepath.Join(c.Dir, "registry.pid") }
func (c Config) auth() bool           { return c.Username != "" }

// fileSize returns the size of the file at path, 0 when it is absent.
func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

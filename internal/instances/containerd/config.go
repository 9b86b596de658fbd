package containerd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Defaults for Config's fields.
const (
	DefaultBinary     = "containerd"
	DefaultCNIBinDir  = "/usr/lib/cni"
	DefaultRuntime    = "runc"
	DefaultSocketsDir = "/run/vnode"
)

// maxSocketPath is the longest path a unix socket may have: sun_path holds
// 108 bytes including the terminating NUL.
const maxSocketPath = 107

// ttrpcSuffix is what containerd appends to the gRPC address for its ttrpc
// socket when none is configured; that path must fit too.
const ttrpcSuffix = ".ttrpc"

// Config describes a private containerd.
type Config struct {
	// Dir holds everything of this containerd: config.toml, root/ (images,
	// snapshots, CRI metadata), state/ (runtime state, network namespaces),
	// containerd.sock, containerd.log and containerd.pid. Required, absolute.
	Dir string
	// Binary is the containerd executable; DefaultBinary (looked up in
	// PATH) when empty.
	Binary string
	// SandboxImage is the CRI pause image. Required. It must already be in
	// containerd's k8s.io namespace when a pod sandbox is run, since no
	// registry outside this host is reachable.
	SandboxImage string
	// CNIConfDir is where the CRI plugin loads its network from; Dir/cni
	// when empty. Only its lexically first conflist is used.
	CNIConfDir string
	// CNIBinDir holds the CNI plugins; DefaultCNIBinDir when empty.
	CNIBinDir string
	// Runtime is the runc-compatible OCI runtime binary used through
	// io.containerd.runc.v2; DefaultRuntime (runc, from PATH) when empty.
	// crun does not work with this host's hybrid cgroups.
	Runtime string
	// SocketsDir is where the gRPC socket goes when Dir/containerd.sock
	// would be too long for a unix socket; DefaultSocketsDir when empty.
	SocketsDir string
}

// resolved returns cfg with defaults filled in, or an error for a missing
// required field.
func (c Config) resolved() (Config, error) {
	if c.Dir == "" {
		return Config{}, errors.New("containerd: Dir is required")
	}
	if !filepath.IsAbs(c.Dir) {
		return Config{}, fmt.Errorf("containerd: Dir %q is not an absolute path", c.Dir)
	}
	c.Dir = filepath.Clean(c.Dir)
	if c.SandboxImage == "" {
		return Config{}, errors.New("containerd: SandboxImage is required")
	}
	c.Binary = orDefault(c.Binary, DefaultBinary)
	c.CNIConfDir = orDefault(c.CNIConfDir, filepath.Join(c.Dir, "cni"))
	c.CNIBinDir = orDefault(c.CNIBinDir, DefaultCNIBinDir)
	c.Runtime = orDefault(c.Runtime, DefaultRuntime)
	c.SocketsDir = orDefault(c.SocketsDir, DefaultSocketsDir)
	return c, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ConfigPath returns where the containerd configuration file goes.
func (c Config) ConfigPath() string { return filepath.Join(c.Dir, "config.toml") }

// LogPath returns containerd's log file.
func (c Config) LogPath() string { return filepath.Join(c.Dir, "containerd.log") }

// PidPath returns containerd's pid file.
func (c Config) PidPath() string { return filepath.Join(c.Dir, "containerd.pid") }

// SocketPath returns the gRPC socket's path: Dir/containerd.sock, or, when
// that (plus containerd's ".ttrpc" suffix) does not fit in a unix socket
// address, SocketsDir/<hash of Dir>.sock.
func (c Config) SocketPath() string {
	c.SocketsDir = orDefault(c.SocketsDir, DefaultSocketsDir)
	p := filepath.Join(filepath.Clean(c.Dir), "containerd.sock")
	if len(p)+len(ttrpcSuffix) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(filepath.Clean(c.Dir)))
	return filepath.Join(c.SocketsDir, hex.EncodeToString(sum[:8])+".sock")
}

// disabledPlugins are plugins the CRI plugin does not need. The other
// snapshotters would only probe the filesystem (and log errors); the opt
// plugin would create /opt/containerd outside Dir. The v1 runtime
// (io.containerd.runtime.v1.linux) must stay although CRI only uses
// io.containerd.runc.v2: containerd 1.6's tasks service, and with it the
// CRI plugin, fails to load without it.
func disabledPlugins() []string {
	return []string{
		"io.containerd.internal.v1.opt",
		"io.containerd.snapshotter.v1.aufs",
		"io.containerd.snapshotter.v1.btrfs",
		"io.containerd.snapshotter.v1.devmapper",
		"io.containerd.snapshotter.v1.zfs",
		"io.containerd.tracing.processor.v1.otlp",
	}
}

// renderConfig returns containerd 1.6's config.toml (schema version 2) for
// a resolved cfg.
func renderConfig(c Config) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by vnode; rewritten on every start.")
	w("version = 2")
	w("root = %s", tomlString(filepath.Join(c.Dir, "root")))
	w("state = %s", tomlString(filepath.Join(c.Dir, "state")))
	w("disabled_plugins = %s", tomlStrings(disabledPlugins()))
	w("")
	w("[grpc]")
	w("  address = %s", tomlString(c.SocketPath()))
	w("")
	w("[debug]")
	w("  address = \"\"")
	w("  level = \"info\"")
	w("")
	w("[metrics]")
	w("  address = \"\"")
	w("")
	const cri = `[plugins."io.containerd.grpc.v1.cri"`
	w(cri + `]`)
	w("  sandbox_image = %s", tomlString(c.SandboxImage))
	w("  restrict_oom_score_adj = true")
	w("  enable_selinux = false")
	w("  netns_mounts_under_state_dir = true")
	w("  stream_server_address = \"127.0.0.1\"")
	w("  stream_server_port = \"0\"")
	w("")
	w(cri + `.containerd]`)
	w("  snapshotter = \"overlayfs\"")
	w("  default_runtime_name = \"runc\"")
	w("")
	w(cri + `.containerd.runtimes.runc]`)
	w("  runtime_type = \"io.containerd.runc.v2\"")
	w("")
	w(cri + `.containerd.runtimes.runc.options]`)
	w("  SystemdCgroup = false")
	w("  BinaryName = %s", tomlString(c.Runtime))
	w("  Root = %s", tomlString(filepath.Join(c.Dir, "state", "runc")))
	w("")
	w(cri + `.cni]`)
	w("  bin_dir = %s", tomlString(c.CNIBinDir))
	w("  conf_dir = %s", tomlString(c.CNIConfDir))
	w("  max_conf_num = 1")
	w("")
	w(cri + `.registry]`)
	w("  config_path = \"\"")
	return b.String()
}

// WriteConfig creates cfg.Dir and the CNI conf dir and writes containerd's
// config.toml into cfg.Dir.
func WriteConfig(cfg Config) error {
	c, err := cfg.resolved()
	if err != nil {
		return err
	}
	for _, dir := range []string{c.Dir, c.CNIConfDir} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return fmt.Errorf("containerd: %w", err)
		}
	}
	if err := os.WriteFile(c.ConfigPath(), []byte(renderConfig(c)), 0o644); err != nil {
		return fmt.Errorf("containerd: write config: %w", err)
	}
	return nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlStrings(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = tomlString(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

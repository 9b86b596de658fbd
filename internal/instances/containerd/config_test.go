package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderConfig(t *testing.T) {
	c, err := Config{Dir: "/var/lib/vnode/containerd", SandboxImage: `vnode.local/pause:1`}.resolved()
	if err != nil {
		t.Fatal(err)
	}
	got := renderConfig(c)
	for _, want := range []string{
		"version = 2\n",
		`root = "/var/lib/vnode/containerd/root"`,
		`state = "/var/lib/vnode/containerd/state"`,
		`address = "/var/lib/vnode/containerd/containerd.sock"`,
		`"io.containerd.snapshotter.v1.btrfs"`,
		`[plugins."io.containerd.grpc.v1.cri"]` + "\n" + `  sandbox_image = "vnode.local/pause:1"`,
		"restrict_oom_score_adj = true",
		"enable_selinux = false",
		`snapshotter = "overlayfs"`,
		`default_runtime_name = "runc"`,
		`[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]` + "\n" + `  runtime_type = "io.containerd.runc.v2"`,
		"SystemdCgroup = false",
		`BinaryName = "runc"`,
		`Root = "/var/lib/vnode/containerd/state/runc"`,
		`bin_dir = "/usr/lib/cni"`,
		`conf_dir = "/var/lib/vnode/containerd/cni"`,
		"max_conf_num = 1",
		`[plugins."io.containerd.grpc.v1.cri".registry]` + "\n" + `  config_path = ""`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	for _, keep := range []string{"overlayfs\"", "io.containerd.grpc.v1.cri\"", "io.containerd.runtime.v2", "io.containerd.runtime.v1.linux"} {
		if strings.Contains(tomlStrings(disabledPlugins()), keep) {
			t.Errorf("disabled plugins include %s", keep)
		}
	}
}

func TestResolvedRequiresFields(t *testing.T) {
	for _, c := range []Config{{}, {Dir: "rel", SandboxImage: "x"}, {Dir: "/abs"}} {
		if _, err := c.resolved(); err == nil {
			t.Errorf("no error for %+v", c)
		}
	}
}

func TestSocketPathTooLong(t *testing.T) {
	short := Config{Dir: "/var/lib/vnode/containerd"}
	if got := short.SocketPath(); got != "/var/lib/vnode/containerd/containerd.sock" {
		t.Errorf("short dir: socket %s", got)
	}
	long := Config{Dir: "/" + strings.Repeat("d", 100)}
	got := long.SocketPath()
	if !strings.HasPrefix(got, DefaultSocketsDir+"/") || len(got)+len(ttrpcSuffix) > maxSocketPath {
		t.Errorf("long dir: socket %s", got)
	}
	if other := (Config{Dir: "/" + strings.Repeat("e", 100)}).SocketPath(); other == got {
		t.Errorf("two dirs share socket %s", got)
	}
	if again := (Config{Dir: long.Dir + "/"}).SocketPath(); again != got {
		t.Errorf("socket depends on a trailing slash: %s vs %s", again, got)
	}
}

func TestTOMLString(t *testing.T) {
	if got := tomlString("a\"b\\c\nd"); got != `"a\"b\\c\u000Ad"` {
		t.Errorf("tomlString: %s", got)
	}
}

func TestWriteConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: filepath.Join(dir, "ctrd"), SandboxImage: "pause"}
	if err := WriteConfig(cfg); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cfg.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "restrict_oom_score_adj = true") {
		t.Errorf("config.toml:\n%s", data)
	}
	if fi, err := os.Stat(filepath.Join(cfg.Dir, "cni")); err != nil || !fi.IsDir() {
		t.Errorf("CNI conf dir not created: %v", err)
	}
}

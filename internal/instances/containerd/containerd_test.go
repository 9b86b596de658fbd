package containerd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/mounts"
)

// requireContainerd skips the test unless it runs as root with containerd
// and runc installed.
func requireContainerd(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	for _, bin := range []string{DefaultBinary, DefaultRuntime, "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s in PATH: %v", bin, err)
		}
	}
}

// testConfig returns a Config in a fresh temporary directory.
func testConfig(t *testing.T) Config {
	t.Helper()
	return Config{Dir: filepath.Join(t.TempDir(), "ctrd"), SandboxImage: "vnode.test/pause:none"}
}

// writeNetwork writes a CNI conflist into cfg's conf dir. Its bridge and
// subnet are private to the test, so a running vnode is not disturbed.
func writeNetwork(t *testing.T, cfg Config) {
	t.Helper()
	err := network.WriteCNIConfig(filepath.Join(cfg.Dir, "cni"), network.Config{
		Bridge:  fmt.Sprintf("vnt%d", os.Getpid()%100000),
		Subnet:  "10.249.0.0/24",
		IPAMDir: filepath.Join(cfg.Dir, "ipam"),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func startContainerd(t *testing.T, cfg Config) *Containerd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func cleanup(t *testing.T, d *Containerd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Cleanup(ctx); err != nil {
		t.Error(err)
	}
	assertNothingLeft(t, d.Dir())
}

// assertNothingLeft checks that no process mentions dir on its command
// line and nothing is mounted under dir.
func assertNothingLeft(t *testing.T, dir string) {
	t.Helper()
	if pids := processesMentioning(dir); len(pids) > 0 {
		t.Errorf("processes still running for %s: %v", dir, pids)
	}
	points, err := mounts.PointsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) > 0 {
		t.Errorf("still mounted under %s: %v", dir, points)
	}
}

func processesMentioning(s string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), s) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

// waitStatus polls Status until cond holds or 10 s pass.
func waitStatus(t *testing.T, d *Containerd, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := d.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; status %+v", what, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestStartStatusCleanup(t *testing.T) {
	requireContainerd(t)
	cfg := testConfig(t)
	writeNetwork(t, cfg)
	d := startContainerd(t, cfg)
	defer cleanup(t, d)
	ctx := context.Background()

	v, err := d.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.RuntimeName != "containerd" || !strings.HasPrefix(v.RuntimeVersion, "1.6.") || v.RuntimeApiVersion != "v1" {
		t.Errorf("version %+v, want containerd 1.6.x with CRI v1", v)
	}
	waitStatus(t, d, "RuntimeReady and NetworkReady", func(st Status) bool { return st.RuntimeReady && st.NetworkReady })

	pods, err := d.RuntimeClient().ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("fresh containerd lists pods: %v", pods.Items)
	}
	if _, err := d.ImageClient().ListImages(ctx, &runtimeapi.ListImagesRequest{}); err != nil {
		t.Errorf("ListImages: %v", err)
	}
	if d.Socket() != filepath.Join(cfg.Dir, "containerd.sock") {
		t.Errorf("socket %s", d.Socket())
	}
	for _, line := range strings.Split(readFile(t, cfg.LogPath()), "\n") {
		if strings.Contains(line, "level=warning") || strings.Contains(line, "level=error") {
			t.Log(line)
		}
	}
}

func TestNetworkReadyFollowsCNIConfig(t *testing.T) {
	requireContainerd(t)
	cfg := testConfig(t)
	d := startContainerd(t, cfg)
	defer cleanup(t, d)

	st := waitStatus(t, d, "RuntimeReady", func(st Status) bool { return st.RuntimeReady })
	if st.NetworkReady {
		t.Errorf("NetworkReady without a CNI config: %+v", st)
	}
	writeNetwork(t, cfg)
	waitStatus(t, d, "NetworkReady after writing the CNI config", func(st Status) bool { return st.NetworkReady })
}

func TestStartTwiceOnSameDir(t *testing.T) {
	requireContainerd(t)
	cfg := testConfig(t)
	writeNetwork(t, cfg)
	d := startContainerd(t, cfg)

	if _, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Start on a running Dir: %v", err)
	}
	meta := filepath.Join(cfg.Dir, "root", "io.containerd.metadata.v1.bolt", "meta.db")
	before, err := os.Stat(meta)
	if err != nil {
		t.Fatalf("metadata store: %v", err)
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Error(err)
	}
	select {
	case <-d.Done():
	default:
		t.Fatal("containerd still running after Stop")
	}
	if pids := processesMentioning(cfg.Dir); len(pids) > 0 {
		t.Errorf("processes left after Stop: %v", pids)
	}

	d = startContainerd(t, cfg)
	defer cleanup(t, d)
	after, err := os.Stat(meta)
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("metadata store not kept across restarts: %v", err)
	}
	waitStatus(t, d, "RuntimeReady and NetworkReady after restart", func(st Status) bool { return st.RuntimeReady && st.NetworkReady })
}

func TestLongDirUsesSocketsDir(t *testing.T) {
	requireContainerd(t)
	base := t.TempDir()
	cfg := Config{
		Dir:          filepath.Join(base, strings.Repeat("long", 25)),
		SandboxImage: "vnode.test/pause:none",
		SocketsDir:   filepath.Join(base, "s"),
	}
	d := startContainerd(t, cfg)
	if !strings.HasPrefix(d.Socket(), cfg.SocketsDir+"/") {
		t.Errorf("socket %s not under %s", d.Socket(), cfg.SocketsDir)
	}
	cleanup(t, d)
	if _, err := os.Stat(d.Socket()); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestStartFailsWithBadBinary(t *testing.T) {
	cfg := testConfig(t)
	cfg.Binary = "/bin/false"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Start(ctx, cfg); err == nil || !strings.Contains(err.Error(), "exited during start") {
		t.Errorf("Start with /bin/false: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

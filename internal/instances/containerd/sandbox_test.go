package containerd

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// pauseSource is a minimal pause process: it sleeps until SIGTERM or SIGINT.
const pauseSource = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
`

// TestPodSandboxSurvivesStop runs a real pod sandbox from a pause image
// built and imported on the spot: it gets an IP from the group network,
// keeps running (with its shim) while containerd is stopped, is found
// again by a containerd restarted on the same Dir, and Cleanup removes it
// with nothing left behind.
func TestPodSandboxSurvivesStop(t *testing.T) {
	requireContainerd(t)
	for _, bin := range []string{"ctr", "go", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s in PATH: %v", bin, err)
		}
	}
	cfg := testConfig(t)
	cfg.SandboxImage = "vnode.test/pause:1"
	bridge := fmt.Sprintf("vnt%d", os.Getpid()%100000)
	writeNetwork(t, cfg)
	t.Cleanup(func() { deleteLink(t, bridge) })
	removeEmptyDirs(t, "/run/containerd", "/run/containerd/s")

	d := startContainerd(t, cfg)
	importImage(t, d.Socket(), cfg.SandboxImage, buildPause(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	id := runSandbox(ctx, t, d)
	if err := d.Stop(ctx); err != nil {
		t.Error(err)
	}
	if shims := processesMentioning("containerd-shim-runc-v2"); !containsAny(shims, cfg.Dir) {
		t.Errorf("no shim of ours survived Stop: %v", shims)
	}

	d = startContainerd(t, cfg)
	defer cleanup(t, d)
	st, err := d.RuntimeClient().PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("after restart the sandbox is %v, want ready", st.Status.State)
	}
}

func runSandbox(ctx context.Context, t *testing.T, d *Containerd) string {
	t.Helper()
	start := time.Now()
	resp, err := d.RuntimeClient().RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "test", Uid: "uid-1", Namespace: "default"},
		Hostname: "test",
		Linux:    &runtimeapi.LinuxPodSandboxConfig{},
	}})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v; log ends:\n%s", err, tailFile(t, d.cfg.LogPath()))
	}
	t.Logf("RunPodSandbox took %v", time.Since(start))
	st, err := d.RuntimeClient().PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: resp.PodSandboxId})
	if err != nil {
		t.Fatal(err)
	}
	if ip := st.Status.GetNetwork().GetIp(); !strings.HasPrefix(ip, "10.249.0.") {
		t.Errorf("sandbox IP %q, want one in 10.249.0.0/24", ip)
	}
	return resp.PodSandboxId
}

// buildPause compiles pauseSource statically and returns the binary.
func buildPause(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "pause.go")
	if err := os.WriteFile(src, []byte(pauseSource), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "pause")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build pause: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// importImage imports a one-layer image holding /pause (a docker-archive
// tar) into containerd's k8s.io namespace with ctr.
func importImage(t *testing.T, socket, ref string, pause []byte) {
	t.Helper()
	layer := tarOf(t, map[string][]byte{"pause": pause}, 0o755)
	layerSum := sha256.Sum256(layer)
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{"/pause"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(layerSum[:])}},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{ref}, "Layers": []string{"layer.tar"}}})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	data := tarOf(t, map[string][]byte{"config.json": config, "layer.tar": layer, "manifest.json": manifest}, 0o644)
	if err := os.WriteFile(archive, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ctr", "--address", socket, "-n", "k8s.io", "images", "import", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
}

func tarOf(t *testing.T, files map[string][]byte, mode int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// deleteLink removes the test's bridge, which CNI leaves behind when the
// last sandbox goes.
func deleteLink(t *testing.T, name string) {
	t.Helper()
	if err := exec.Command("ip", "link", "show", name).Run(); err != nil {
		return
	}
	if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
		t.Errorf("delete bridge %s: %v\n%s", name, err, out)
	}
}

func containsAny(list []string, s string) bool {
	for _, l := range list {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func tailFile(t *testing.T, path string) string {
	t.Helper()
	lines := strings.Split(readFile(t, path), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// removeEmptyDirs removes dirs (parents first in the list) at the end of
// the test if they are empty then: containerd 1.6 always puts shim sockets
// under /run/containerd/s, and an empty one is safe to remove.
func removeEmptyDirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		t.Cleanup(func() { _ = os.Remove(dir) }) // fails harmlessly unless empty
	}
}

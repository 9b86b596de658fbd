// Package containerd checks, end to end, the pieces the container instances
// service runs groups with: the project's own images, pushed to Debian's
// docker-registry (open and with basic auth), pulled by a private
// containerd through CRI, and run as a pod sandbox with an IP on a bridge
// of the test's own.
package containerd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/instances/containerd"
	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/instances/runtime/cri/crilog"
	"github.com/vnode-io/vnode/internal/registry"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

func TestProjectImagesRunOnContainerd(t *testing.T) {
	framework.RequireContainerd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// Registered first, so it runs last: after every other cleanup.
	t.Cleanup(func() { assertNothingLeft(t, dir) })

	open, err := registry.Start(ctx, registry.Config{Dir: filepath.Join(dir, "registry"), Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(open.Stop)
	private, err := registry.Start(ctx, registry.Config{Dir: filepath.Join(dir, "private"), Addr: "127.0.0.1:0",
		Username: "puller", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(private.Stop)

	// The binaries are cached across runs in the user's cache directory.
	var b images.Builder
	pauseRef := open.Host() + "/" + images.PauseRepository + ":" + images.Tag
	helloRef := open.Host() + "/" + images.HelloRepository + ":" + images.Tag
	shellRef := private.Host() + "/" + images.ShellRepository + ":" + images.Tag
	for _, x := range []struct {
		build func(context.Context) (v1.Image, error)
		ref   string
		reg   *registry.Registry
	}{{b.Pause, pauseRef, open}, {b.Hello, helloRef, open}, {b.Shell, shellRef, private}} {
		img, err := x.build(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := images.Push(ctx, img, x.ref, x.reg.Auth(), true); err != nil {
			t.Fatalf("push %s: %v", x.ref, err)
		}
	}

	bridge := fmt.Sprintf("vne%d", os.Getpid()%100000)
	cniDir := filepath.Join(dir, "cni")
	if err := network.WriteCNIConfig(cniDir, network.Config{Name: "vnode-e2e", Bridge: bridge,
		Subnet: "10.248.0.0/24", IPAMDir: filepath.Join(dir, "ipam")}); err != nil {
		t.Fatal(err)
	}
	framework.DeleteLinkAtEnd(t, bridge)
	framework.RemoveEmptyDirsAtEnd(t, "/run/containerd", "/run/containerd/s")
	d, err := containerd.Start(ctx, containerd.Config{Dir: filepath.Join(dir, "containerd"), SandboxImage: pauseRef,
		CNIConfDir: cniDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Cleanup(context.Background()); err != nil {
			t.Errorf("containerd cleanup: %v", err)
		}
	})
	rt, img := d.RuntimeClient(), d.ImageClient()

	for _, ref := range []string{pauseRef, helloRef} {
		if _, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
			t.Fatalf("CRI pull of %s over plain HTTP: %v", ref, err)
		}
	}
	// The private registry refuses an anonymous pull and accepts its user.
	if _, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: shellRef}}); err == nil {
		t.Error("an anonymous pull from the registry with basic auth succeeded")
	}
	if _, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: shellRef},
		Auth: &runtimeapi.AuthConfig{Username: "puller", Password: "wrong"}}); err == nil {
		t.Error("a pull with a wrong password succeeded")
	}
	if _, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: shellRef},
		Auth: &runtimeapi.AuthConfig{Username: "puller", Password: "s3cret"}}); err != nil {
		t.Errorf("a pull with the registry's credentials: %v", err)
	}

	logDir := filepath.Join(dir, "logs", "hello")
	sandboxCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "hello", Uid: "uid-hello", Namespace: "vnode-e2e"},
		Hostname:     "hello",
		LogDirectory: logDir,
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxCfg})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	st, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb.PodSandboxId})
	if err != nil {
		t.Fatal(err)
	}
	ip := st.Status.GetNetwork().GetIp()
	if !strings.HasPrefix(ip, "10.248.0.") {
		t.Fatalf("sandbox IP %q, want one in 10.248.0.0/24", ip)
	}
	ctr, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId,
		SandboxConfig: sandboxCfg, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "hello"},
			Image:    &runtimeapi.ImageSpec{Image: helloRef},
			LogPath:  "hello.log",
			Envs:     []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("hi")}},
		}})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}

	// The hello server answers on the group's IP, from the host, over the bridge.
	client := &http.Client{Timeout: 2 * time.Second}
	var page string
	framework.WaitFor(t, "hello to answer on "+ip, time.Minute, func() (bool, error) {
		resp, err := client.Get("http://" + ip + "/")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		page = string(body)
		return resp.StatusCode == 200, nil
	})
	if !strings.Contains(page, "vnode") || !strings.Contains(page, "hello") {
		t.Errorf("hello's page does not mention vnode and its hostname:\n%s", page)
	}

	ex, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ctr.ContainerId,
		Cmd: []string{"/bin/sh", "-c", "echo $GREETING from $(hostname); exit 3"}, Timeout: 30})
	if err != nil {
		t.Fatalf("ExecSync: %v", err)
	}
	if ex.ExitCode != 3 || strings.TrimSpace(string(ex.Stdout)) != "hi from hello" {
		t.Errorf("exec: exit %d, stdout %q, stderr %q", ex.ExitCode, ex.Stdout, ex.Stderr)
	}

	// The container's log, in CRI format, shows the request hello served.
	framework.WaitFor(t, "hello's request log", 30*time.Second, func() (bool, error) {
		data, err := os.ReadFile(filepath.Join(logDir, "hello.log"))
		if err != nil {
			return false, err
		}
		lines, err := crilog.ReadAll(bytes.NewReader(data))
		if err != nil {
			return false, err
		}
		for _, l := range lines {
			if strings.Contains(string(l.Content), "GET /") {
				return true, nil
			}
		}
		return false, fmt.Errorf("%d log lines, none with the request", len(lines))
	})
}

// assertNothingLeft checks that no process of the test is running and
// nothing is mounted under dir.
func assertNothingLeft(t *testing.T, dir string) {
	t.Helper()
	framework.WaitFor(t, "the test's processes to exit", 30*time.Second, func() (bool, error) {
		if pids := framework.ProcessesMentioning(dir); len(pids) > 0 {
			return false, fmt.Errorf("processes %v still mention %s", pids, dir)
		}
		return true, nil
	})
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), dir) {
		t.Errorf("mounts left under %s", dir)
	}
}

package framework

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/registry"
)

// ImageRefs name the project's images in a registry.
type ImageRefs struct {
	Pause, Hello, Shell string
}

// StartImageRegistry starts an open docker-registry on loopback under dir,
// pushes the project's pause, hello and shell images to it, and stops it
// when the test ends.
func StartImageRegistry(ctx context.Context, t testing.TB, dir string) (*registry.Registry, ImageRefs) {
	t.Helper()
	reg, err := registry.Start(ctx, registry.Config{Dir: filepath.Join(dir, "registry"), Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	ref := func(repo string) string { return reg.Host() + "/" + repo + ":" + images.Tag }
	refs := ImageRefs{Pause: ref(images.PauseRepository), Hello: ref(images.HelloRepository), Shell: ref(images.ShellRepository)}
	var b images.Builder
	for _, x := range []struct {
		build func(context.Context) (v1.Image, error)
		ref   string
	}{{b.Pause, refs.Pause}, {b.Hello, refs.Hello}, {b.Shell, refs.Shell}} {
		img, err := x.build(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := images.Push(ctx, img, x.ref, nil, true); err != nil {
			t.Fatalf("push %s: %v", x.ref, err)
		}
	}
	return reg, refs
}

// DeleteLinkAtEnd removes the network interface name when the test ends:
// CNI leaves a bridge behind when its last sandbox goes.
func DeleteLinkAtEnd(t testing.TB, name string) {
	t.Helper()
	t.Cleanup(func() {
		if exec.Command("ip", "link", "show", name).Run() != nil {
			return
		}
		if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete link %s: %v\n%s", name, err, out)
		}
	})
}

// RemoveEmptyDirsAtEnd removes dirs (parents first in the list) when the
// test ends if they are empty then. containerd 1.6 puts shim sockets under
// /run/containerd/s whatever its configuration; an empty directory there is
// safe to remove (containerd recreates it for the next shim), and test
// binaries running side by side cannot tell who created it.
func RemoveEmptyDirsAtEnd(t testing.TB, dirs ...string) {
	t.Helper()
	// Cleanups run last-registered first: children (later in dirs) go first.
	for _, dir := range dirs {
		t.Cleanup(func() { _ = os.Remove(dir) }) // fails harmlessly unless empty
	}
}

// RequireContainerd skips the test unless it runs as root with containerd,
// runc, docker-registry, ip and any extra binaries in PATH: what real
// container groups need.
func RequireContainerd(t testing.TB, extra ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containerd, CNI bridges and network namespaces")
	}
	for _, bin := range append([]string{"containerd", "runc", "docker-registry", "ip"}, extra...) {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s (hack/install-prereqs.sh installs it)", bin)
		}
	}
}

package conformance

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/k8sbin"
)

// TestImage is one of the suite's images (test/utils/image/manifest.go)
// that a run provides: where the suite looks for it, and the stand-in that
// vnode builds for it.
type TestImage struct {
	// Registry picks the image's registry from a RegistryList.
	Registry func(RegistryList) string
	// Name and Version are the suite's repository name and tag.
	Name, Version string
	// StandIn says what vnode's image holds.
	StandIn string
	build   func(context.Context, *images.Builder, k8sbin.Set) (v1.Image, error)
}

// Ref is the image's reference under the registries of l.
func (i TestImage) Ref(l RegistryList) string {
	return i.Registry(l) + "/" + i.Name + ":" + i.Version
}

// The suite's versions of the images built from vnode's own (manifest.go
// at k8sbin's Kubernetes release).
const (
	busyboxVersion = "1.37.0-2"
	pauseVersion   = "3.10.2"
)

func promoter(l RegistryList) string { return l.PromoterE2eRegistry }
func gc(l RegistryList) string       { return l.GcRegistry }

// TestImages are the images that the suite's Conformance and
// NodeConformance tests run. The tests use no other image of manifest.go:
// nginx only in tests that are Slow or not NodeConformance, httpd not at
// all in this release.
func TestImages() []TestImage {
	return []TestImage{
		{Registry: promoter, Name: "agnhost", Version: k8sbin.AgnhostVersion,
			StandIn: "agnhost built from k8s.io/kubernetes/test/images/agnhost at the pinned release, at /agnhost with /agnhost-2, " +
				"/localhost.crt and /localhost.key, /uploads and the image's user and group, on busybox instead of Alpine",
			build: func(ctx context.Context, b *images.Builder, set k8sbin.Set) (v1.Image, error) {
				return b.Agnhost(ctx, images.AgnhostFiles{Binary: set.Path(k8sbin.Agnhost),
					Cert: set.Path(k8sbin.AgnhostCert), Key: set.Path(k8sbin.AgnhostKey)})
			}},
		{Registry: promoter, Name: "busybox", Version: busyboxVersion,
			StandIn: "vnode's shell image: Debian's busybox-static with every applet in /bin, root and nobody",
			build: func(ctx context.Context, b *images.Builder, _ k8sbin.Set) (v1.Image, error) {
				return b.Shell(ctx)
			}},
		{Registry: promoter, Name: "nonewprivs", Version: k8sbin.NonewprivsVersion,
			StandIn: "nnp built from k8s.io/kubernetes/test/images/nonewprivs at /usr/local/bin/nnp, set-user-ID root, without Alpine",
			build: func(_ context.Context, _ *images.Builder, set k8sbin.Set) (v1.Image, error) {
				return images.Nonewprivs(set.Path(k8sbin.Nonewprivs))
			}},
		{Registry: gc, Name: "pause", Version: pauseVersion,
			StandIn: "vnode's pause image (its own pause program at /pause)",
			build: func(ctx context.Context, b *images.Builder, _ k8sbin.Set) (v1.Image, error) {
				return b.Pause(ctx)
			}},
	}
}

// PushImages builds every test image (the programs from set) and pushes it
// to the open registry at host under the name that list gives it.
func PushImages(ctx context.Context, out io.Writer, b *images.Builder, set k8sbin.Set, host string, list RegistryList) error {
	for _, ti := range TestImages() {
		began := time.Now()
		img, err := ti.build(ctx, b, set)
		if err != nil {
			return fmt.Errorf("build test image %s: %w", ti.Name, err)
		}
		ref := ti.Ref(list)
		if err := images.Push(ctx, img, ref, authn.Anonymous, true); err != nil {
			return err
		}
		fmt.Fprintf(out, "pushed %s in %s\n", ref, time.Since(began).Round(100*time.Millisecond))
	}
	return nil
}

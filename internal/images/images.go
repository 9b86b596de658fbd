package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Repositories of vnode's images, and the tag all of them carry.
const (
	PauseRepository = "vnode/pause"
	HelloRepository = "vnode/hello"
	ShellRepository = "vnode/shell"
	// Tag is the fixed version tag of every image; see the package comment.
	Tag = "1"
)

// searchPath is the PATH of images that have a shell.
const searchPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// helloPort is the port the hello image listens on.
const helloPort = "80/tcp"

// Builder builds vnode's images. Its zero value is ready to use.
type Builder struct {
	// Go is the go tool that compiles the programs; "go" from PATH when empty.
	Go string
	// CacheDir holds the compiled programs, named by a key of their source,
	// the Go release and the architecture; the user cache directory's
	// vnode/images when empty.
	CacheDir string
	// Busybox is the static busybox binary copied into the shell and hello
	// images; DefaultBusybox when empty.
	Busybox string

	// builds maps a cache path to a semaphore (chan struct{} of capacity
	// 1) while its program is built, so that concurrent callers of one
	// Builder compile each program once. Builds by other Builders and
	// processes are kept apart by reserveTemp and the final rename.
	builds sync.Map
}

// Pause returns the pod sandbox image: the static pause program at /pause,
// entrypoint ["/pause"], in one layer.
func (b *Builder) Pause(ctx context.Context) (v1.Image, error) {
	app, err := b.programLayer(ctx, pauseProgram)
	if err != nil {
		return nil, err
	}
	cfg := v1.Config{Entrypoint: []string{"/pause"}}
	return assemble(pauseProgram, cfg, app)
}

// Hello returns the sample web server image: the static hello program at
// /hello, entrypoint ["/hello"], port 80/tcp exposed. When the host has
// busybox, a first layer (the same as the shell image's) adds it with its
// applets in /bin, so that exec into a hello container finds /bin/sh;
// without busybox the image holds /hello alone.
func (b *Builder) Hello(ctx context.Context) (v1.Image, error) {
	var layers []v1.Layer
	if b.haveBusybox() {
		base, err := b.baseLayer(ctx)
		if err != nil {
			return nil, err
		}
		layers = append(layers, base)
	}
	app, err := b.programLayer(ctx, helloProgram)
	if err != nil {
		return nil, err
	}
	cfg := v1.Config{
		Entrypoint:   []string{"/hello"},
		Env:          []string{searchPath},
		ExposedPorts: map[string]struct{}{helloPort: {}},
	}
	return assemble(helloProgram, cfg, append(layers, app)...)
}

// Shell returns the busybox image: the host's static busybox at /bin/busybox
// with every applet linked in /bin, /etc/passwd and /etc/group with root and
// nobody, entrypoint ["/bin/sh"]. It fails with ErrNoBusybox when the host
// lacks busybox.
func (b *Builder) Shell(ctx context.Context) (v1.Image, error) {
	base, err := b.baseLayer(ctx)
	if err != nil {
		return nil, err
	}
	cfg := v1.Config{Entrypoint: []string{"/bin/sh"}, Env: []string{searchPath}}
	return assemble("shell", cfg, base)
}

// programLayer is a layer holding the named program at /<name>, mode 0755.
func (b *Builder) programLayer(ctx context.Context, program string) (v1.Layer, error) {
	bin, err := b.binary(ctx, program)
	if err != nil {
		return nil, err
	}
	return b.binaryLayer(program, bin, program)
}

// binaryLayer is a layer holding the cached binary bin at path (mode 0755)
// and the directories dirs (0755). Its compressed form is cached beside
// the binary, whose name identifies its content, so that an image of a
// large program (CoreDNS: 56 MB) is compressed once, not at every start.
func (b *Builder) binaryLayer(what, bin, path string, dirs ...string) (v1.Layer, error) {
	key := filepath.Base(bin) + "-" + strings.ReplaceAll(strings.Join(append([]string{path}, dirs...), ","), "/", "_") +
		"-layer" + layerFormat + ".tar.gz"
	cache := filepath.Join(filepath.Dir(bin), key)
	if blob, err := os.ReadFile(cache); err == nil {
		return blobLayer(blob)
	}
	e, err := hostFile(path, 0o755, bin)
	if err != nil {
		return nil, fmt.Errorf("images: %s: %w", what, err)
	}
	entries := []entry{e}
	for _, d := range dirs {
		entries = append(entries, dir(d, 0o755))
	}
	blob, err := compress(entries)
	if err != nil {
		return nil, fmt.Errorf("images: %s layer: %w", what, err)
	}
	// A failed write only costs the next caller a compression.
	if tmp, err := reserveTemp(filepath.Dir(cache), key); err == nil {
		if os.WriteFile(tmp, blob, 0o644) != nil || os.Rename(tmp, cache) != nil {
			os.Remove(tmp)
		}
	}
	return blobLayer(blob)
}

// baseLayer is the busybox userland as a layer.
func (b *Builder) baseLayer(ctx context.Context) (v1.Layer, error) {
	entries, err := b.baseEntries(ctx)
	if err != nil {
		return nil, err
	}
	l, err := newLayer(entries)
	if err != nil {
		return nil, fmt.Errorf("images: busybox layer: %w", err)
	}
	return l, nil
}

// assemble makes a linux image for the host's architecture from cfg and
// layers, with every time at the epoch.
func assemble(what string, cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: epoch},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("images: %s config: %w", what, err)
	}
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{
			Layer:   l,
			History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "vnode images: " + what},
		})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("images: %s layers: %w", what, err)
	}
	return img, nil
}

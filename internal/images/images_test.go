package images

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/vnode-io/vnode/internal/images/imagestest"
)

// sharedCache is the binary cache of every test in this binary, so that
// each program is compiled once.
var sharedCache string

// built memoizes the images of newBuilder by name: compressing layers is
// slow under the race detector.
var built struct {
	sync.Mutex
	images map[string]v1.Image
}

// image returns the named image ("pause", "hello" or "shell")
// of newBuilder, building it on first use.
func image(t *testing.T, which string) v1.Image {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if img, ok := built.images[which]; ok {
		return img
	}
	b := newBuilder()
	build := map[string]func(context.Context) (v1.Image, error){"pause": b.Pause, "hello": b.Hello, "shell": b.Shell}[which]
	img, err := build(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if built.images == nil {
		built.images = map[string]v1.Image{}
	}
	built.images[which] = img
	return img
}

// TestMain keeps the tests off the network: the Builder runs the go command
// with this process's environment, so GOPROXY=off makes any build that would
// fetch a module fail at once (TestProxyOff). The programs built here need
// the standard library alone; CoreDNS, which needs the module proxy, is
// built by the end-to-end tests in test/e2e/images.
func TestMain(m *testing.M) {
	if err := os.Setenv("GOPROXY", "off"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "vnode-images-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newBuilder() *Builder { return &Builder{CacheDir: sharedCache} }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func requireBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(DefaultBusybox); errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s absent: install busybox-static", DefaultBusybox)
	}
}

// checkSymlink requires fs (from imagestest.Files) to hold a symlink to
// target at path.
func checkSymlink(t *testing.T, fs map[string]imagestest.File, path, target string) {
	t.Helper()
	f, ok := fs[path]
	if !ok {
		t.Errorf("%s missing", path)
		return
	}
	if f.Header.Typeflag != tar.TypeSymlink || f.Header.Linkname != target {
		t.Errorf("%s: type %c -> %q; want symlink to %q", path, f.Header.Typeflag, f.Header.Linkname, target)
	}
}

func TestPause(t *testing.T) {
	ctx := testContext(t)
	img := image(t, "pause")
	imagestest.CheckImage(t, img, "/pause")
	fs := imagestest.Files(t, img)
	imagestest.CheckFile(t, fs, "pause", 0o755)
	if len(fs) != 1 {
		t.Errorf("pause image holds %d entries; want 1", len(fs))
	}
	again, err := newBuilder().Pause(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := imagestest.Digest(t, img), imagestest.Digest(t, again); a != b {
		t.Errorf("second build: digest %s; first %s", b, a)
	}
}

// TestReproducibleBinaries compiles pause again into an empty cache: the
// image must not change.
func TestReproducibleBinaries(t *testing.T) {
	ctx := testContext(t)
	first := image(t, "pause")
	fresh, err := (&Builder{CacheDir: t.TempDir()}).Pause(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := imagestest.Digest(t, first), imagestest.Digest(t, fresh); a != b {
		t.Errorf("fresh compile: digest %s; cached %s", b, a)
	}
}

func TestHello(t *testing.T) {
	img := image(t, "hello")
	cfg := imagestest.CheckImage(t, img, "/hello")
	if _, ok := cfg.Config.ExposedPorts["80/tcp"]; !ok || len(cfg.Config.ExposedPorts) != 1 {
		t.Errorf("exposed ports = %v; want 80/tcp", cfg.Config.ExposedPorts)
	}
	fs := imagestest.Files(t, img)
	imagestest.CheckFile(t, fs, "hello", 0o755)
	if _, err := os.Stat(DefaultBusybox); err != nil {
		return
	}
	imagestest.CheckFile(t, fs, "bin/busybox", 0o755)
	checkSymlink(t, fs, "bin/sh", "busybox")
	// The busybox layer is the shell image's, so registries store it once.
	helloLayers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	shellLayers, err := image(t, "shell").Layers()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := helloLayers[0].Digest()
	s, _ := shellLayers[0].Digest()
	if h != s {
		t.Errorf("hello's busybox layer %s differs from the shell's %s", h, s)
	}
}

func TestShell(t *testing.T) {
	requireBusybox(t)
	ctx := testContext(t)
	img := image(t, "shell")
	cfg := imagestest.CheckImage(t, img, "/bin/sh")
	if got := strings.Join(cfg.Config.Env, " "); got != "PATH=/usr/local/bin:/usr/bin:/bin" {
		t.Errorf("env = %q", got)
	}
	fs := imagestest.Files(t, img)
	imagestest.CheckFile(t, fs, "bin/busybox", 0o755)
	for _, applet := range []string{"sh", "ls", "cat", "echo", "sleep", "env", "wget", "nc", "id", "ps", "mkdir", "rm", "true", "false", "test", "hostname", "head", "tail", "grep", "kill", "date", "printf"} {
		checkSymlink(t, fs, "bin/"+applet, "busybox")
	}
	passwd := string(imagestest.CheckFile(t, fs, "etc/passwd", 0o644).Data)
	if !strings.HasPrefix(passwd, "root:x:0:0:") || !strings.Contains(passwd, "\nnobody:x:65534:65534:") {
		t.Errorf("/etc/passwd = %q", passwd)
	}
	imagestest.CheckFile(t, fs, "etc/group", 0o644)
	if f := fs["tmp"]; f.Header == nil || f.Header.Typeflag != tar.TypeDir || f.Header.Mode != 0o1777 {
		t.Errorf("/tmp = %+v; want a directory with mode 1777", f.Header)
	}
	again, err := newBuilder().Shell(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := imagestest.Digest(t, img), imagestest.Digest(t, again); a != b {
		t.Errorf("second build: digest %s; first %s", b, a)
	}
}

func TestWithoutBusybox(t *testing.T) {
	ctx := testContext(t)
	b := &Builder{CacheDir: sharedCache, Busybox: filepath.Join(t.TempDir(), "busybox")}
	_, err := b.Shell(ctx)
	if !errors.Is(err, ErrNoBusybox) || !strings.Contains(err.Error(), "busybox-static") {
		t.Errorf("Shell without busybox: %v; want ErrNoBusybox naming busybox-static", err)
	}
	img, err := b.Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fs := imagestest.Files(t, img)
	imagestest.CheckFile(t, fs, "hello", 0o755)
	if len(fs) != 1 {
		t.Errorf("hello without busybox holds %d entries; want 1", len(fs))
	}
}

func TestBuildFailureNamesProgram(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go in PATH")
	}
	fake := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\nif [ \"$1\" = env ]; then exec " + goBin + " \"$@\"; fi\necho 'main.go:1: compiler exploded' >&2\nexit 2\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = (&Builder{Go: fake, CacheDir: t.TempDir()}).Pause(testContext(t))
	if err == nil || !strings.Contains(err.Error(), "build pause") || !strings.Contains(err.Error(), "compiler exploded") {
		t.Errorf("error = %v; want the program name and the compiler output", err)
	}
}

// TestConcurrentBuildsCompileOnce asks for one program from several
// goroutines: the go tool must build it once.
func TestConcurrentBuildsCompileOnce(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go in PATH")
	}
	dir := t.TempDir()
	calls := filepath.Join(dir, "builds")
	fake := filepath.Join(dir, "go")
	script := "#!/bin/sh\nif [ \"$1\" = build ]; then echo build >> " + calls + "; fi\nexec " + goBin + " \"$@\"\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &Builder{Go: fake, CacheDir: filepath.Join(dir, "cache")}
	ctx := testContext(t)
	paths := make([]string, 4)
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i := range paths {
		wg.Go(func() { paths[i], errs[i] = b.binary(ctx, pauseProgram) })
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Errorf("caller %d: %q, %v; want %q", i, paths[i], errs[i], paths[0])
		}
	}
	log, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "build"); n != 1 {
		t.Errorf("go build ran %d times; want 1", n)
	}
}

func TestPushAndPullByDigest(t *testing.T) {
	ctx := testContext(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	repos := map[string]string{PauseRepository: "pause", HelloRepository: "hello"}
	if _, err := os.Stat(DefaultBusybox); err == nil {
		repos[ShellRepository] = "shell"
	}
	for repo, which := range repos {
		img := image(t, which)
		ref := host + "/" + repo + ":" + Tag
		if err := Push(ctx, img, ref, nil, true); err != nil {
			t.Fatal(err)
		}
		want := imagestest.Digest(t, img)
		byDigest, err := name.NewDigest(host+"/"+repo+"@"+want.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		pulled, err := remote.Image(byDigest, remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("pull %s by digest: %v", repo, err)
		}
		if got := imagestest.Digest(t, pulled); got != want {
			t.Errorf("%s: pulled digest %s; pushed %s", repo, got, want)
		}
		if repo == PauseRepository {
			if err := validate.Image(pulled); err != nil {
				t.Errorf("%s: pulled image: %v", repo, err)
			}
		}
		tag, err := name.NewTag(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := remote.Head(tag, remote.WithContext(ctx))
		if err != nil || desc.Digest != want {
			t.Errorf("%s: tag resolves to %v, %v; want %s", ref, desc, err, want)
		}
	}
}

func TestPushBadReference(t *testing.T) {
	if err := Push(testContext(t), image(t, "pause"), "Not A Reference", nil, true); err == nil || !strings.Contains(err.Error(), "Not A Reference") {
		t.Errorf("Push(bad ref) = %v", err)
	}
}

// start runs a compiled program with env added and kills it at cleanup.
func start(t *testing.T, program string, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	bin, err := newBuilder().binary(testContext(t), program)
	if err != nil {
		t.Fatal(err)
	}
	return imagestest.StartBinary(t, bin, nil, env...)
}

func TestPauseProgram(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, out := start(t, pauseProgram)
			imagestest.WaitLine(t, out, regexp.MustCompile(`^pause: waiting`))
			imagestest.Stop(t, cmd, sig)
		})
	}
}

func TestHelloProgram(t *testing.T) {
	cmd, out := start(t, helloProgram, "PORT=0")
	m := imagestest.WaitLine(t, out, regexp.MustCompile(`listening on .*:(\d+)$`))
	base := "http://127.0.0.1:" + m[1]
	hostname, _ := os.Hostname()

	body := get(t, base+"/", "text/html")
	if !strings.Contains(body, "Welcome") || !strings.Contains(body, "vnode") || !strings.Contains(body, hostname) {
		t.Errorf("GET / = %q; want the welcome text, vnode and the hostname %q", body, hostname)
	}
	if body := get(t, base+"/healthz", "text/plain"); body != "ok\n" {
		t.Errorf("GET /healthz = %q", body)
	}
	resp, err := http.Get(base + "/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing-here = %s; want 404", resp.Status)
	}
	imagestest.Stop(t, cmd, syscall.SIGTERM)
}

func get(t *testing.T, url, contentType string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), contentType) {
		t.Errorf("GET %s: %s, %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// TestProxyOff checks the guard of TestMain: a build that needs a module
// outside the module cache fails, naming GOPROXY=off, instead of reaching the
// network.
func TestProxyOff(t *testing.T) {
	m := module{
		program: "needs-proxy",
		goMod:   []byte("module vnode.local/needs-proxy\n\ngo 1.22\n\nrequire example.invalid/absent v1.0.0\n"),
		main:    []byte("package main\n\nimport _ \"example.invalid/absent\"\n\nfunc main() {}\n"),
		tidy:    true,
	}
	_, err := (&Builder{CacheDir: t.TempDir()}).moduleBinary(testContext(t), m)
	if err == nil || !strings.Contains(err.Error(), "GOPROXY=off") {
		t.Errorf("build of a module needing the proxy: %v; want a failure naming GOPROXY=off", err)
	}
}

func TestWithoutModFlags(t *testing.T) {
	got := withoutModFlags("-mod=vendor -buildvcs=false --modfile=x.mod -tags=a")
	if got != "-buildvcs=false -tags=a" {
		t.Errorf("withoutModFlags = %q", got)
	}
}

func TestCacheKey(t *testing.T) {
	pause := stdModule("pause", []byte("src"))
	a := cacheKey(pause, "go1.26.8")
	if a != cacheKey(stdModule("pause", []byte("src")), "go1.26.8") {
		t.Error("key not stable")
	}
	tidied := pause
	tidied.tidy = true
	otherMod := pause
	otherMod.goMod = []byte("module vnode.local/pause\n\ngo 1.26.0\n")
	for _, other := range []string{
		cacheKey(stdModule("hello", []byte("src")), "go1.26.8"),
		cacheKey(stdModule("pause", []byte("src2")), "go1.26.8"),
		cacheKey(pause, "go1.26.9"),
		cacheKey(tidied, "go1.26.8"),
		cacheKey(otherMod, "go1.26.8"),
	} {
		if other == a {
			t.Error("key ignores an input")
		}
	}
}

// A program's compressed layer is kept beside its binary and read back
// instead of being compressed again.
func TestLayerCache(t *testing.T) {
	ctx := testContext(t)
	b := &Builder{CacheDir: t.TempDir()}
	first, err := b.Pause(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := filepath.Glob(filepath.Join(b.CacheDir, "*-layer"+layerFormat+".tar.gz"))
	if err != nil || len(cached) != 1 {
		t.Fatalf("cached layers %v, %v; want one", cached, err)
	}
	again, err := b.Pause(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if imagestest.Digest(t, again) != imagestest.Digest(t, first) {
		t.Error("the image from the cached layer differs")
	}
	// What the cache holds is what the image gets.
	other, err := compress([]entry{file("other", 0o644, []byte("other"))})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached[0], other, 0o644); err != nil {
		t.Fatal(err)
	}
	swapped, err := b.Pause(ctx)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := swapped.Layers()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := blobLayer(other)
	got, _ := layers[0].Digest()
	if wantDigest, _ := want.Digest(); got != wantDigest {
		t.Errorf("layer %s, want the cached one %s", got, wantDigest)
	}
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// opTimeout bounds each start, push or pull; generous for a loaded
// 2-core machine, and never waited out when things work.
const opTimeout = 60 * time.Second

// requireBinary skips the test when the registry is not installed.
func requireBinary(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(DefaultBinary); err != nil {
		t.Skipf("%s not in PATH (apt-get install docker-registry): %v", DefaultBinary, err)
	}
}

func opContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startRegistry starts a registry and stops it when the test ends.
func startRegistry(t *testing.T, cfg Config) *Registry {
	t.Helper()
	r, err := Start(opContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// startOnFreeAddr starts a registry on a port chosen with FreeAddr,
// choosing again if another process took the port in between.
func startOnFreeAddr(t *testing.T, cfg Config) *Registry {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr, err := FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Addr = addr
		r, err := Start(opContext(t), cfg)
		if errors.Is(err, ErrAddrInUse) && attempt < 5 {
			t.Logf("port taken meanwhile, choosing another: %v", err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Stop)
		return r
	}
}

// push writes a fresh random image to repo on r and returns it.
func push(t *testing.T, r *Registry, repo string, auth authn.Authenticator) (v1.Image, name.Reference, error) {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(r.Host()+"/"+repo+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return img, ref, remote.Write(ref, img, remote.WithAuth(auth), remote.WithContext(opContext(t)))
}

// pullByDigest pulls the image with img's digest from repo on r and
// checks that it is img, layer contents included.
func pullByDigest(t *testing.T, r *Registry, repo string, img v1.Image) {
	t.Helper()
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(r.Host()+"/"+repo+"@"+want.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref, remote.WithAuth(r.Auth()), remote.WithContext(opContext(t)))
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if d, err := got.Digest(); err != nil || d != want {
		t.Fatalf("pulled digest %v (%v), want %v", d, err, want)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("pulled image is inconsistent: %v", err)
	}
	assertSameLayers(t, img, got)
}

func assertSameLayers(t *testing.T, want, got v1.Image) {
	t.Helper()
	wl, err := want.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(wl) != len(gl) {
		t.Fatalf("pulled %d layers, pushed %d", len(gl), len(wl))
	}
	for i := range wl {
		wd, _ := wl[i].Digest()
		gd, _ := gl[i].Digest()
		if wd != gd {
			t.Errorf("layer %d: pulled %v, pushed %v", i, gd, wd)
		}
	}
}

// assertUnauthorized checks that err is the registry's answer 401 and,
// when the answer had a body, that its error code is UNAUTHORIZED.
// (remote.Write fails on a HEAD request, whose answer has no body.)
func assertUnauthorized(t *testing.T, err error, wantCode bool) {
	t.Helper()
	var terr *transport.Error
	if !errors.As(err, &terr) {
		t.Fatalf("got %v, want a registry error", err)
	}
	if terr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got status %d (%v), want 401", terr.StatusCode, err)
	}
	if !wantCode {
		return
	}
	for _, d := range terr.Errors {
		if d.Code == transport.UnauthorizedErrorCode {
			return
		}
	}
	t.Fatalf("got %v, want error code UNAUTHORIZED", err)
}

// get fetches the manifest of ref with auth, to see the registry's
// error body.
func get(t *testing.T, ref name.Reference, auth authn.Authenticator) error {
	t.Helper()
	_, err := remote.Get(ref, remote.WithAuth(auth), remote.WithContext(opContext(t)))
	return err
}

// processGone reports whether no process has pid any more (reaped, not
// even a zombie).
func processGone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return os.IsNotExist(err)
}

func TestPushPullWithoutAuth(t *testing.T) {
	requireBinary(t)
	r := startRegistry(t, Config{Dir: t.TempDir(), Addr: "127.0.0.1:0"})
	if !strings.HasPrefix(r.Host(), "127.0.0.1:") || r.Host() == "127.0.0.1:0" {
		t.Fatalf("Host() = %q, want 127.0.0.1 with the picked port", r.Host())
	}
	if r.Auth() != authn.Anonymous {
		t.Errorf("Auth() = %v, want anonymous", r.Auth())
	}
	img, _, err := push(t, r, "test/random", r.Auth())
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	pullByDigest(t, r, "test/random", img)
}

func TestAuth(t *testing.T) {
	requireBinary(t)
	r := startRegistry(t, Config{Dir: t.TempDir(), Addr: "127.0.0.1:0", Username: "vnode", Password: "s3cret"})

	for _, tc := range []struct {
		name string
		auth authn.Authenticator
	}{
		{"without credentials", authn.Anonymous},
		{"wrong password", &authn.Basic{Username: "vnode", Password: "wrong"}},
		{"unknown user", &authn.Basic{Username: "someone", Password: "s3cret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ref, err := push(t, r, "test/private", tc.auth)
			assertUnauthorized(t, err, false)
			assertUnauthorized(t, get(t, ref, tc.auth), true)
		})
	}

	img, _, err := push(t, r, "test/private", r.Auth())
	if err != nil {
		t.Fatalf("push with the right credentials: %v", err)
	}
	pullByDigest(t, r, "test/private", img)
	if _, err := remote.Image(parseRef(t, r, "test/private:v1"), remote.WithContext(opContext(t))); err == nil {
		t.Error("anonymous pull from a registry with auth succeeded")
	}
}

func parseRef(t *testing.T, r *Registry, repo string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.Host()+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestStopEndsProcessAndFreesPort(t *testing.T) {
	requireBinary(t)
	dir := t.TempDir()
	r := startOnFreeAddr(t, Config{Dir: dir})
	pid := r.Pid()
	if processGone(pid) {
		t.Fatalf("registry pid %d not running after Start", pid)
	}
	r.Stop()
	if !processGone(pid) {
		t.Errorf("/proc/%d still exists after Stop", pid)
	}
	if _, err := os.Stat(filepath.Join(dir, "registry.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	ln, err := net.Listen("tcp", r.Addr())
	if err != nil {
		t.Fatalf("port still taken after Stop: %v", err)
	}
	ln.Close()
	r.Stop() // stopping again is fine
}

func TestSideBySide(t *testing.T) {
	requireBinary(t)
	a := startRegistry(t, Config{Dir: t.TempDir(), Addr: "127.0.0.1:0"})
	b := startRegistry(t, Config{Dir: t.TempDir(), Addr: "127.0.0.1:0"})
	if a.Addr() == b.Addr() {
		t.Fatalf("both registries on %s", a.Addr())
	}
	imgA, _, err := push(t, a, "test/a", a.Auth())
	if err != nil {
		t.Fatalf("push to a: %v", err)
	}
	imgB, _, err := push(t, b, "test/b", b.Auth())
	if err != nil {
		t.Fatalf("push to b: %v", err)
	}
	pullByDigest(t, a, "test/a", imgA)
	pullByDigest(t, b, "test/b", imgB)

	// Their storage is separate: b does not have a's image.
	ref, err := name.NewTag(b.Host()+"/test/a:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(ref, remote.WithContext(opContext(t)))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD a's image on b: %v, want 404", err)
	}
}

func TestRestartKeepsImages(t *testing.T) {
	requireBinary(t)
	cfg := Config{Dir: t.TempDir(), Username: "u", Password: "p"}
	first := startOnFreeAddr(t, cfg)
	img, _, err := push(t, first, "test/kept", first.Auth())
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	first.Stop()

	// Same directory, same address: the registry comes back with a new
	// secret and htpasswd file but the same storage.
	cfg.Addr = first.Addr()
	second, err := Start(opContext(t), cfg)
	if errors.Is(err, ErrAddrInUse) {
		t.Logf("the old port was taken meanwhile, using another: %v", err)
		second = startOnFreeAddr(t, cfg)
	} else if err != nil {
		t.Fatal(err)
	} else {
		t.Cleanup(second.Stop)
	}
	pullByDigest(t, second, "test/kept", img)
}

func TestAddrInUse(t *testing.T) {
	requireBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(opContext(t), Config{Dir: t.TempDir(), Addr: ln.Addr().String()})
	if !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("Start on a taken port: %v, want ErrAddrInUse", err)
	}
}

func TestEarlyExitReportsLog(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fake-registry")
	body := "#!/bin/sh\necho 'configuration error: something is wrong' >&2\nexit 3\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(opContext(t), Config{Dir: filepath.Join(dir, "reg"), Addr: "127.0.0.1:0", Binary: script})
	if err == nil || !strings.Contains(err.Error(), "something is wrong") || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("Start with a failing binary: %v; want the exit and the log tail", err)
	}
	if errors.Is(err, ErrAddrInUse) {
		t.Errorf("a configuration error reported as ErrAddrInUse: %v", err)
	}
}

func TestStartHonoursContext(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "silent-registry")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec sleep 300\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := Start(ctx, Config{Dir: filepath.Join(dir, "reg"), Addr: "127.0.0.1:0", Binary: script})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start of a registry that never listens: %v, want DeadlineExceeded", err)
	}
	pid, _ := os.ReadFile(filepath.Join(dir, "reg", "registry.pid"))
	if len(pid) != 0 {
		t.Errorf("pid file %q left behind: the process was not stopped", pid)
	}
}

func TestConfigValidation(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []Config{
		{Addr: "127.0.0.1:5000"},
		{Dir: dir},
		{Dir: dir, Addr: "0.0.0.0:5000"},
		{Dir: dir, Addr: "10.1.2.3:5000"},
		{Dir: dir, Addr: "127.0.0.1"},
		{Dir: dir, Addr: "127.0.0.1:http"},
		{Dir: dir, Addr: "127.0.0.1:5000", Username: "u"},
		{Dir: dir, Addr: "127.0.0.1:5000", Password: "p"},
		{Dir: dir, Addr: "127.0.0.1:5000", Username: "a:b", Password: "p"},
	} {
		if _, err := Start(t.Context(), cfg); err == nil {
			t.Errorf("Start(%+v) succeeded, want a configuration error", cfg)
		}
	}
	for _, addr := range []string{"127.0.0.1:5000", "[::1]:0", "localhost:65535", "127.1.2.3:0"} {
		if err := validateAddr(addr); err != nil {
			t.Errorf("validateAddr(%q): %v", addr, err)
		}
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, Addr: "127.0.0.1:5000", Username: "u", Password: "p"}
	if err := WriteFiles(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`version: "0.1"`, "level: info", "rootdirectory: " + filepath.Join(dir, "data"),
		"addr: 127.0.0.1:5000", "realm: vnode", "path: " + filepath.Join(dir, "htpasswd"),
		"X-Content-Type-Options:", "- nosniff",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("config.yml lacks %q:\n%s", want, data)
		}
	}
	htpasswd, err := os.ReadFile(filepath.Join(dir, "htpasswd"))
	if err != nil || !strings.HasPrefix(string(htpasswd), "u:$2") {
		t.Errorf("htpasswd = %q, %v; want a bcrypt entry for u", htpasswd, err)
	}

	open := Config{Dir: t.TempDir(), Addr: "127.0.0.1:5000"}
	if err := WriteFiles(t.Context(), open); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(open.configPath())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "auth:") {
		t.Errorf("config.yml without credentials has an auth section:\n%s", data)
	}
}

func TestStartEndsLeftoverRegistry(t *testing.T) {
	requireBinary(t)
	cfg := Config{Dir: t.TempDir(), Addr: "127.0.0.1:0"}
	// A registry left behind by a parent that was killed before the
	// kernel could end its children: only the pid file tells of it.
	if err := WriteFiles(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	leftover := exec.Command(DefaultBinary, "serve", cfg.configPath())
	leftover.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = leftover.Wait(); close(exited) }()
	t.Cleanup(func() { _ = syscall.Kill(-leftover.Process.Pid, syscall.SIGKILL); <-exited })
	if err := os.WriteFile(cfg.pidPath(), []byte(fmt.Sprintln(leftover.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}

	r := startRegistry(t, cfg)
	select {
	case <-exited:
	case <-time.After(opTimeout):
		t.Fatal("the leftover registry still runs")
	}
	if processGone(r.Pid()) {
		t.Fatalf("new registry pid %d not running", r.Pid())
	}
	if pid, err := os.ReadFile(cfg.pidPath()); err != nil || strings.TrimSpace(string(pid)) != fmt.Sprint(r.Pid()) {
		t.Errorf("pid file %q, %v; want %d", pid, err, r.Pid())
	}
}

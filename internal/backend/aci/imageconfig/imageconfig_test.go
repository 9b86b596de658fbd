package imageconfig

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/backend"
)

// testRegistry is go-containerregistry's registry on loopback, counting
// requests by method and kind (manifests, blobs).
type testRegistry struct {
	host     string
	mu       sync.Mutex
	requests map[string]int
}

func (r *testRegistry) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[key]
}

// startRegistry serves a registry; wrap, when not nil, stands in front of it.
func startRegistry(t *testing.T, wrap func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	r := &testRegistry{requests: map[string]int{}}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		kind := "other"
		switch {
		case strings.Contains(req.URL.Path, "/manifests/"):
			kind = "manifests"
		case strings.Contains(req.URL.Path, "/blobs/"):
			kind = "blobs"
		}
		r.mu.Lock()
		r.requests[req.Method+" "+kind]++
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// image is an image of platform with cfg and no layers.
func image(t *testing.T, cfg v1.Config, arch string) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: arch, Config: cfg,
		RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// push writes img as ref with auth (anonymous when nil).
func push(t *testing.T, ref string, img v1.Image, auth authn.Authenticator) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	if err := remote.Write(r, img, remote.WithAuth(auth)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func resolve(t *testing.T, r *Resolver, ref string, creds ...backend.RegistryCredential) Config {
	t.Helper()
	c, err := r.Resolve(context.Background(), ref, creds)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", ref, err)
	}
	return c
}

func TestResolve(t *testing.T) {
	reg := startRegistry(t, nil)
	shell := image(t, v1.Config{Entrypoint: []string{"/bin/sh"}, Cmd: []string{"-c", "echo default"}, User: "1234:5"}, "amd64")
	push(t, reg.host+"/vnode/shell:1", shell, nil)
	push(t, reg.host+"/vnode/cmd-only:1", image(t, v1.Config{Cmd: []string{"/run", "--flag"}}, "amd64"), nil)
	r := New(Options{})
	want := Config{Entrypoint: []string{"/bin/sh"}, Cmd: []string{"-c", "echo default"}, User: "1234:5"}
	if got := resolve(t, r, reg.host+"/vnode/shell:1"); !reflect.DeepEqual(got, want) {
		t.Errorf("by tag: %+v, want %+v", got, want)
	}
	if got := resolve(t, r, reg.host+"/vnode/shell@"+digestOf(t, shell)); !reflect.DeepEqual(got, want) {
		t.Errorf("by digest: %+v, want %+v", got, want)
	}
	if got := resolve(t, r, reg.host+"/vnode/cmd-only:1"); got.Entrypoint != nil || !reflect.DeepEqual(got.Cmd, []string{"/run", "--flag"}) {
		t.Errorf("an image without entrypoint: %+v", got)
	}
	// What the caller gets is its own.
	got := resolve(t, r, reg.host+"/vnode/shell:1")
	got.Entrypoint[0] = "changed"
	if again := resolve(t, r, reg.host+"/vnode/shell:1"); again.Entrypoint[0] != "/bin/sh" {
		t.Errorf("a caller changed the cache: %+v", again)
	}
}

// An index resolves to the image of the resolver's platform.
func TestResolveIndex(t *testing.T) {
	reg := startRegistry(t, nil)
	amd := image(t, v1.Config{Entrypoint: []string{"/amd64"}}, "amd64")
	arm := image(t, v1.Config{Entrypoint: []string{"/arm64"}}, "arm64")
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	ref, err := name.ParseReference(reg.host + "/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, New(Options{}), ref.String()); !reflect.DeepEqual(got.Entrypoint, []string{"/amd64"}) {
		t.Errorf("default platform: %+v, want linux/amd64's", got)
	}
	armResolver := New(Options{Platform: v1.Platform{OS: "linux", Architecture: "arm64"}})
	if got := resolve(t, armResolver, ref.String()); !reflect.DeepEqual(got.Entrypoint, []string{"/arm64"}) {
		t.Errorf("linux/arm64: %+v", got)
	}
}

// A tag's digest is reused for TagTTL, a digest's config for as long as the
// cache keeps it.
func TestCaches(t *testing.T) {
	reg := startRegistry(t, nil)
	ref := reg.host + "/app:latest"
	push(t, ref, image(t, v1.Config{Entrypoint: []string{"/v1"}}, "amd64"), nil)
	fc := clocktesting.NewFakePassiveClock(time.Unix(1700000000, 0))
	r := New(Options{Clock: fc, TagTTL: time.Minute})
	resolve(t, r, ref)
	manifests, blobs := reg.count("HEAD manifests")+reg.count("GET manifests"), reg.count("GET blobs")
	if manifests == 0 || blobs != 1 {
		t.Fatalf("first resolution: %d manifest and %d blob requests", manifests, blobs)
	}
	push(t, ref, image(t, v1.Config{Entrypoint: []string{"/v2"}}, "amd64"), nil)
	before := reg.count("HEAD manifests") + reg.count("GET manifests")
	if got := resolve(t, r, ref); got.Entrypoint[0] != "/v1" || reg.count("HEAD manifests")+reg.count("GET manifests") != before {
		t.Errorf("within the TTL: %+v, and the registry was asked", got)
	}
	fc.SetTime(fc.Now().Add(time.Minute))
	if got := resolve(t, r, ref); got.Entrypoint[0] != "/v2" {
		t.Errorf("after the TTL: %+v, want the tag's new image", got)
	}
	// Back to the first image: its config comes from the cache.
	push(t, ref, image(t, v1.Config{Entrypoint: []string{"/v1"}}, "amd64"), nil)
	fc.SetTime(fc.Now().Add(time.Minute))
	blobs = reg.count("GET blobs")
	if got := resolve(t, r, ref); got.Entrypoint[0] != "/v1" || reg.count("GET blobs") != blobs {
		t.Errorf("a digest seen before: %+v, blob reads %d → %d", got, blobs, reg.count("GET blobs"))
	}

	// The caches are bounded.
	small := New(Options{CacheSize: 2})
	for _, tag := range []string{"a", "b", "c"} {
		push(t, reg.host+"/app:"+tag, image(t, v1.Config{Entrypoint: []string{"/" + tag}}, "amd64"), nil)
		resolve(t, small, reg.host+"/app:"+tag)
	}
	if small.configs.Len() != 2 || small.tags.Len() != 2 {
		t.Errorf("caches of %d configs and %d tags, want 2 each", small.configs.Len(), small.tags.Len())
	}
}

// Concurrent resolutions of one reference share one read.
func TestConcurrentResolutionsShareARead(t *testing.T) {
	var blocking atomic.Bool
	release := make(chan struct{})
	reg := startRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if blocking.Load() && strings.Contains(req.URL.Path, "/manifests/") && req.Method == http.MethodHead {
				<-release
			}
			next.ServeHTTP(w, req)
		})
	})
	ref := reg.host + "/app:1"
	push(t, ref, image(t, v1.Config{Entrypoint: []string{"/app"}}, "amd64"), nil)
	blocking.Store(true)
	heads := reg.count("HEAD manifests")
	r := New(Options{})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 8 {
		wg.Go(func() {
			if c, err := r.Resolve(context.Background(), ref, nil); err != nil || c.Entrypoint[0] != "/app" {
				failed.Add(1)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	if failed.Load() != 0 || reg.count("HEAD manifests")-heads != 1 {
		t.Errorf("%d failed, %d HEAD requests; want none and 1", failed.Load(), reg.count("HEAD manifests")-heads)
	}
}

// A registry that wants credentials gets the pod's for its server, and a
// digest read with one credential does not answer for another.
func TestCredentials(t *testing.T) {
	const user, password = "puller", "s3cret-pass"
	reg := startRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if u, p, ok := req.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, req)
		})
	})
	ref := reg.host + "/private/app:1"
	push(t, ref, image(t, v1.Config{Entrypoint: []string{"/app"}}, "amd64"), &authn.Basic{Username: user, Password: password})
	r := New(Options{})
	right := backend.RegistryCredential{Server: reg.host, Username: user, Password: password}
	other := backend.RegistryCredential{Server: "elsewhere.example", Username: user, Password: password}
	if got := resolve(t, r, ref, other, right); got.Entrypoint[0] != "/app" {
		t.Errorf("with credentials: %+v", got)
	}
	for what, creds := range map[string][]backend.RegistryCredential{
		"none":                    nil,
		"another registry's":      {other},
		"with the wrong password": {{Server: reg.host, Username: user, Password: "wrong"}},
	} {
		_, err := r.Resolve(context.Background(), ref, creds)
		if err == nil || errors.Is(err, ErrBadReference) || !strings.Contains(err.Error(), "401") {
			t.Errorf("credentials %s: %v, want a 401", what, err)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
}

func TestDockerHubNames(t *testing.T) {
	for _, server := range []string{"docker.io", "index.docker.io", "registry-1.docker.io", "Docker.IO"} {
		if _, id := credentialFor(name.DefaultRegistry, []backend.RegistryCredential{{Server: server, Username: "u"}}); id == "" {
			t.Errorf("a credential for %s does not serve Docker Hub", server)
		}
	}
	if _, id := credentialFor("ghcr.io", []backend.RegistryCredential{{Server: "docker.io", Username: "u"}}); id != "" {
		t.Error("Docker Hub's credential served another registry")
	}
}

// Failures name the image and never repeat the body of an answer; a
// registry that does not answer fails within the deadline.
func TestFailures(t *testing.T) {
	if _, err := New(Options{}).Resolve(context.Background(), "Not A Reference::", nil); !errors.Is(err, ErrBadReference) {
		t.Errorf("a bad reference: %v, want ErrBadReference", err)
	}

	hang := make(chan struct{})
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case strings.Contains(req.URL.Path, "/hang/"):
			<-hang
		case strings.Contains(req.URL.Path, "/huge/"):
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.Header().Set("Content-Length", strconv.Itoa(2<<20))
			_, _ = w.Write([]byte(strings.Repeat("x", 2<<20)))
		case req.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		default:
			http.Error(w, "internal-body-detail", http.StatusNotFound)
		}
	}))
	t.Cleanup(hostile.Close)
	t.Cleanup(func() { close(hang) }) // before Close, which waits for the handlers
	host := strings.TrimPrefix(hostile.URL, "http://")
	r := New(Options{Timeout: 300 * time.Millisecond, MaxResponseBytes: 1 << 20})
	_, err := r.Resolve(context.Background(), host+"/broken/app:1", nil)
	if err == nil || !strings.Contains(err.Error(), host+"/broken/app:1") || !strings.Contains(err.Error(), "404") ||
		strings.Contains(err.Error(), "internal-body-detail") {
		t.Errorf("a failing registry: %v; want the image and the status without the body", err)
	}
	if _, err := r.Resolve(context.Background(), host+"/huge/app:1", nil); err == nil || !errors.Is(err, errTooLarge) {
		t.Errorf("a response over the bound: %v", err)
	}
	start := time.Now()
	if _, err := r.Resolve(context.Background(), host+"/hang/app:1", nil); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("a registry that does not answer: %v after %s", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Resolve(ctx, host+"/hang/other:1", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled caller: %v", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := r.Resolve(context.Background(), strings.TrimPrefix(closed.URL, "http://")+"/app:1", nil); err == nil ||
		errors.Is(err, ErrBadReference) {
		t.Errorf("an unreachable registry: %v", err)
	}
}

// A body without a length is cut at the bound with an error, not
// truncated; one that ends at the bound reads whole.
func TestLimitedTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n, _ := strconv.Atoi(req.URL.Query().Get("n"))
		w.(http.Flusher).Flush() // no Content-Length
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: limitedTransport{next: http.DefaultTransport, max: 1000}}
	for n, wantErr := range map[int]bool{1000: false, 1001: true, 5000: true} {
		resp, err := client.Get(srv.URL + "/?n=" + strconv.Itoa(n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if wantErr != errors.Is(err, errTooLarge) || !wantErr && len(b) != n {
			t.Errorf("%d bytes: read %d, %v", n, len(b), err)
		}
	}
}

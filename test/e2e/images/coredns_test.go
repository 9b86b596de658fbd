// Package images checks, end to end, the CoreDNS image that internal/images
// builds from CoreDNS's Go module: its layout, the plugins compiled in, and
// the program serving DNS, health, readiness and metrics on loopback.
//
// The image is built in the cache that vnode up uses ($VNODE_CACHE_DIR, else
// the user's cache directory, then vnode/images), so that these tests and
// vnode up share one build. The first build there resolves CoreDNS's
// dependencies through the Go module proxy (unless the module cache holds
// them) and takes minutes; later runs reuse the cached binary.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/images/imagestest"
	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// newBuilder returns a Builder of the image cache of vnode up.
func newBuilder(t *testing.T) *images.Builder {
	t.Helper()
	dir, err := k8sbin.DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return &images.Builder{CacheDir: filepath.Join(dir, "images")}
}

// timeout is a context that ends after d or with the test.
func timeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// coreDNS returns the CoreDNS image, building it when the cache lacks it:
// eight minutes are enough for a build with cold Go build and module caches
// (about two minutes on two cores and a fast network).
func coreDNS(t *testing.T) v1.Image {
	t.Helper()
	start := time.Now()
	img, err := newBuilder(t).CoreDNS(timeout(t, 8*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CoreDNS image (built or cached): %v", time.Since(start))
	return img
}

// coreDNSBinary extracts /coredns of the CoreDNS image into a temporary
// file and returns its path.
func coreDNSBinary(t *testing.T) string {
	t.Helper()
	f := imagestest.CheckFile(t, imagestest.Files(t, coreDNS(t)), "coredns", 0o755)
	bin := filepath.Join(t.TempDir(), "coredns")
	if err := os.WriteFile(bin, f.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestCoreDNS(t *testing.T) {
	img := coreDNS(t)
	cfg := imagestest.CheckImage(t, img, "/coredns")
	if got := strings.Join(cfg.Config.Cmd, " "); got != "-conf /etc/coredns/Corefile" {
		t.Errorf("cmd = %q; want -conf /etc/coredns/Corefile", got)
	}
	var ports []string
	for p := range cfg.Config.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	if got := strings.Join(ports, " "); got != "53/tcp 53/udp 9153/tcp" {
		t.Errorf("exposed ports = %s; want 53/tcp 53/udp 9153/tcp", got)
	}
	fs := imagestest.Files(t, img)
	bin := imagestest.CheckFile(t, fs, "coredns", 0o755)
	for _, d := range []string{"etc", "etc/coredns"} {
		if f := fs[d]; f.Header == nil || f.Header.Typeflag != tar.TypeDir || f.Header.Mode != 0o755 {
			t.Errorf("/%s = %+v; want a directory with mode 755", d, f.Header)
		}
	}
	if len(fs) != 3 {
		t.Errorf("coredns image holds %d entries; want 3 (coredns, etc, etc/coredns)", len(fs))
	}
	if !bytes.HasPrefix(bin.Data, []byte("\x7fELF")) {
		t.Errorf("/coredns is not an ELF binary")
	}
	t.Logf("/coredns: %d bytes", len(bin.Data))

	// A second call, by another Builder, reuses the cached binary and
	// layer and gives the same image.
	start := time.Now()
	again, err := newBuilder(t).CoreDNS(timeout(t, 3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cached CoreDNS call: %v", time.Since(start))
	if a, b := imagestest.Digest(t, img), imagestest.Digest(t, again); a != b {
		t.Errorf("second build: digest %s; first %s", b, a)
	}
}

// TestCoreDNSPlugins checks that every plugin of images.CoreDNSPlugins is
// registered in the binary, that the cloud plugins are not, and the
// version.
func TestCoreDNSPlugins(t *testing.T) {
	bin := coreDNSBinary(t)
	ctx := timeout(t, time.Minute)
	out, err := exec.CommandContext(ctx, bin, "-plugins").CombinedOutput()
	if err != nil {
		t.Fatalf("coredns -plugins: %v: %s", err, out)
	}
	// One directive a line.
	have := strings.Fields(string(out))
	for _, p := range images.CoreDNSPlugins() {
		if !slices.Contains(have, p) {
			t.Errorf("plugin %s not registered; coredns -plugins:\n%s", p, out)
		}
	}
	for _, cloud := range []string{"route53", "azure", "clouddns", "etcd", "nomad", "geoip"} {
		if slices.Contains(have, cloud) {
			t.Errorf("plugin %s is compiled in", cloud)
		}
	}
	version, err := exec.CommandContext(ctx, bin, "-version").CombinedOutput()
	if want := "CoreDNS-" + strings.TrimPrefix(images.CoreDNSVersion, "v"); err != nil || !strings.HasPrefix(string(version), want) {
		t.Errorf("coredns -version = %q, %v; want %s", version, err, want)
	}
}

// freePort returns a loopback port that is free for both TCP and UDP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		p, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			p.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// httpBody GETs url and returns the body of a 200 response.
func httpBody(url string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}

// TestCoreDNSProgram runs the CoreDNS binary with a Corefile serving a
// hosts entry on loopback and resolves it.
func TestCoreDNSProgram(t *testing.T) {
	bin := coreDNSBinary(t)
	dnsPort, healthPort, readyPort, metricsPort := freePort(t), freePort(t), freePort(t), freePort(t)
	corefile := fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    errors
    log
    health 127.0.0.1:%d
    ready 127.0.0.1:%d
    prometheus 127.0.0.1:%d
    hosts {
        10.9.8.7 probe.test
        fallthrough
    }
    whoami
}
`, dnsPort, healthPort, readyPort, metricsPort)
	conf := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(conf, []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, out := imagestest.StartBinary(t, bin, []string{"-conf", conf})
	// CoreDNS prints its version once every server listens.
	imagestest.WaitLine(t, out, regexp.MustCompile(`^CoreDNS-`))

	framework.WaitFor(t, "CoreDNS ready", 30*time.Second, func() (bool, error) {
		_, err := httpBody(fmt.Sprintf("http://127.0.0.1:%d/ready", readyPort))
		return err == nil, err
	})
	if body, err := httpBody(fmt.Sprintf("http://127.0.0.1:%d/health", healthPort)); err != nil || body != "OK" {
		t.Errorf("health = %q, %v; want OK", body, err)
	}

	dnsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(dnsPort))
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", dnsAddr)
		},
	}
	addrs, err := r.LookupHost(timeout(t, 10*time.Second), "probe.test.")
	if err != nil || len(addrs) != 1 || addrs[0] != "10.9.8.7" {
		t.Errorf("lookup probe.test at %s = %v, %v; want [10.9.8.7]", dnsAddr, addrs, err)
	}

	metrics, err := httpBody(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil || !strings.Contains(metrics, "coredns_build_info") || !strings.Contains(metrics, "coredns_dns_requests_total") {
		t.Errorf("metrics: %v; want coredns_build_info and coredns_dns_requests_total in:\n%.2000s", err, metrics)
	}
	imagestest.Stop(t, cmd, syscall.SIGTERM)
}

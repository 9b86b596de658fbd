package images

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"go/format"
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
)

// coreDNSContext is a test context long enough for a CoreDNS build with a
// cold Go build cache (about two minutes on two cores).
func coreDNSContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestCoreDNS(t *testing.T) {
	img := image(t, "coredns")
	cfg := checkImage(t, img, "/coredns")
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
	fs := files(t, img)
	bin := checkFile(t, fs, "coredns", 0o755)
	for _, d := range []string{"etc", "etc/coredns"} {
		if f := fs[d]; f.hdr == nil || f.hdr.Typeflag != tar.TypeDir || f.hdr.Mode != 0o755 {
			t.Errorf("/%s = %+v; want a directory with mode 755", d, f.hdr)
		}
	}
	if len(fs) != 3 {
		t.Errorf("coredns image holds %d entries; want 3 (coredns, etc, etc/coredns)", len(fs))
	}
	if !bytes.HasPrefix(bin.data, []byte("\x7fELF")) {
		t.Errorf("/coredns is not an ELF binary")
	}
	t.Logf("/coredns: %d bytes", len(bin.data))

	// A second call reuses the cached binary and gives the same image.
	start := time.Now()
	again, err := newBuilder().CoreDNS(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cached CoreDNS call: %v", time.Since(start))
	if a, b := digestOf(t, img), digestOf(t, again); a != b {
		t.Errorf("second build: digest %s; first %s", b, a)
	}
}

func TestCoreDNSMain(t *testing.T) {
	src := coreDNSMain()
	formatted, err := format.Source(src)
	if err != nil {
		t.Fatalf("generated main.go: %v\n%s", err, src)
	}
	if !bytes.Equal(formatted, src) {
		t.Errorf("generated main.go is not gofmt-formatted:\n%s", src)
	}
	if !sort.SliceIsSorted(coreDNSPlugins, func(i, j int) bool { return coreDNSPlugins[i].pkg < coreDNSPlugins[j].pkg }) {
		t.Error("coreDNSPlugins not sorted by package")
	}
	m := coreDNSModuleFiles()
	if want := "require github.com/coredns/coredns " + CoreDNSVersion + "\n"; !strings.Contains(string(m.goMod), want) {
		t.Errorf("go.mod = %q; want %q", m.goMod, want)
	}
	// The cache key follows the plugin list and the CoreDNS version.
	key := cacheKey(m, "go1.26.8")
	fewer := m
	fewer.main = bytes.Replace(m.main, []byte("\t_ \"github.com/coredns/coredns/plugin/whoami\"\n"), nil, 1)
	older := m
	older.goMod = bytes.Replace(m.goMod, []byte(CoreDNSVersion), []byte("v1.14.0"), 1)
	if bytes.Equal(fewer.main, m.main) || bytes.Equal(older.goMod, m.goMod) {
		t.Fatal("test edits did not apply")
	}
	if key == cacheKey(fewer, "go1.26.8") || key == cacheKey(older, "go1.26.8") {
		t.Error("CoreDNS cache key ignores the plugins or the version")
	}
}

// TestCoreDNSPlugins checks that every plugin of coreDNSPlugins is
// registered in the binary and that the cloud plugins are not.
func TestCoreDNSPlugins(t *testing.T) {
	bin, err := newBuilder().coreDNSBinary(coreDNSContext(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	out, err := exec.CommandContext(ctx, bin, "-plugins").CombinedOutput()
	if err != nil {
		t.Fatalf("coredns -plugins: %v: %s", err, out)
	}
	// One directive a line.
	have := strings.Fields(string(out))
	for _, p := range coreDNSPlugins {
		if !slices.Contains(have, p.directive) {
			t.Errorf("plugin %s not registered; coredns -plugins:\n%s", p.directive, out)
		}
	}
	for _, cloud := range []string{"route53", "azure", "clouddns", "etcd", "nomad", "geoip"} {
		if slices.Contains(have, cloud) {
			t.Errorf("plugin %s is compiled in", cloud)
		}
	}
	version, err := exec.CommandContext(ctx, bin, "-version").CombinedOutput()
	if want := "CoreDNS-" + strings.TrimPrefix(CoreDNSVersion, "v"); err != nil || !strings.HasPrefix(string(version), want) {
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

// eventually calls check until it succeeds, failing the test when it still
// fails after timeout.
func eventually(t *testing.T, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		<-tick.C
	}
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
	bin, err := newBuilder().coreDNSBinary(coreDNSContext(t))
	if err != nil {
		t.Fatal(err)
	}
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
	cmd, out := startBinary(t, bin, []string{"-conf", conf})
	// CoreDNS prints its version once every server listens.
	waitLine(t, out, regexp.MustCompile(`^CoreDNS-`))

	eventually(t, 30*time.Second, func() error {
		_, err := httpBody(fmt.Sprintf("http://127.0.0.1:%d/ready", readyPort))
		return err
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
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, "probe.test.")
	if err != nil || len(addrs) != 1 || addrs[0] != "10.9.8.7" {
		t.Errorf("lookup probe.test at %s = %v, %v; want [10.9.8.7]", dnsAddr, addrs, err)
	}

	metrics, err := httpBody(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil || !strings.Contains(metrics, "coredns_build_info") || !strings.Contains(metrics, "coredns_dns_requests_total") {
		t.Errorf("metrics: %v; want coredns_build_info and coredns_dns_requests_total in:\n%.2000s", err, metrics)
	}
	stop(t, cmd, syscall.SIGTERM)
}

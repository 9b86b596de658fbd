package images

import (
	"bytes"
	"go/format"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The CoreDNS image itself is built and run by the end-to-end tests in
// test/e2e/images: its build needs the Go module proxy.

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

func TestCoreDNSPluginsList(t *testing.T) {
	got := CoreDNSPlugins()
	if len(got) != len(coreDNSPlugins) || !slices.Contains(got, "prometheus") || slices.Contains(got, "metrics") {
		t.Errorf("CoreDNSPlugins() = %v; want the directives (prometheus, not its package metrics)", got)
	}
	got[0] = "changed"
	if CoreDNSPlugins()[0] == "changed" {
		t.Error("CoreDNSPlugins returns shared state")
	}
}

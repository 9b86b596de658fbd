package k8sbin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGo writes a stand-in for the go command that answers `go env`,
// turns `go build -o OUT PKG` and `go test -c -o OUT PKG` into a small
// script that prints the subcommand and PKG, or fails for packages named in
// failFor, and answers `go list -m` with a module directory holding
// agnhost's TLS pair.
func fakeGo(t *testing.T, failFor string) string {
	t.Helper()
	dir := t.TempDir()
	moduleDir := t.TempDir()
	porter := filepath.Join(moduleDir, "test", "images", "agnhost", "porter")
	if err := os.MkdirAll(porter, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{AgnhostCert, AgnhostKey} {
		if err := os.WriteFile(filepath.Join(porter, f), []byte("contents of "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := `#!/bin/sh
case "$1" in
env) echo go1.26-test; echo amd64; exit 0 ;;
list) echo "` + moduleDir + `"; exit 0 ;;
build|test)
  sub="$1"; out=""; pkg=""
  while [ $# -gt 0 ]; do
    case "$1" in
      -o) out="$2"; shift ;;
      -ldflags) shift ;;
      -*) ;;
      *) pkg="$1" ;;
    esac
    shift
  done
  echo "$pkg/internal" >&2
  if [ "$pkg" = "` + failFor + `" ]; then echo "$pkg: undefined: something" >&2; exit 1; fi
  printf '#!/bin/sh\necho %s %s\n' "$sub" "$pkg" > "$out"; chmod +x "$out"; exit 0 ;;
esac
exit 2
`
	path := filepath.Join(dir, "go")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func sourceTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hack", "controlplane")
	for _, m := range []string{"etcd", "kubernetes", "conformance"} {
		if err := os.MkdirAll(filepath.Join(dir, m), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"go.mod", "go.sum"} {
			if err := os.WriteFile(filepath.Join(dir, m, f), []byte(m+" "+f+" v1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func countingGo(t *testing.T) (string, func() int) {
	t.Helper()
	real := fakeGo(t, "")
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	path := filepath.Join(dir, "go")
	script := "#!/bin/sh\ncase \"$1\" in build|test) echo x >> " + log + ";; esac\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, func() int {
		data, _ := os.ReadFile(log)
		return strings.Count(string(data), "x")
	}
}

func TestEnsureBuildsOnceAndRebuildsWhenPinChanges(t *testing.T) {
	src, cache := sourceTree(t), t.TempDir()
	goCmd, builds := countingGo(t)
	b := &Builder{SourceDir: src, CacheDir: cache, GoCommand: goCmd}

	set, err := b.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := builds(); got != len(All()) {
		t.Fatalf("first Ensure ran %d builds, want %d", got, len(All()))
	}
	for _, bin := range All() {
		if _, err := os.Stat(set.Path(bin.Name)); err != nil {
			t.Errorf("binary %s: %v", bin.Name, err)
		}
	}

	again, err := b.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again.Dir != set.Dir || builds() != len(All()) {
		t.Fatalf("second Ensure rebuilt (dir %s → %s, builds %d)", set.Dir, again.Dir, builds())
	}

	if err := os.WriteFile(filepath.Join(src, "kubernetes", "go.mod"), []byte("kubernetes go.mod v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := b.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if changed.Dir == set.Dir || builds() != 2*len(All()) {
		t.Fatalf("a changed pin did not give a new build (dir %s, builds %d)", changed.Dir, builds())
	}
	current, err := Current(cache)
	if err != nil || current.Dir != changed.Dir {
		t.Fatalf("Current = %v, %v; want %s", current, err, changed.Dir)
	}
}

func TestEnsureRebuildsBrokenCache(t *testing.T) {
	src, cache := sourceTree(t), t.TempDir()
	b := &Builder{SourceDir: src, CacheDir: cache, GoCommand: fakeGo(t, "")}
	set, err := b.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Truncate one binary, as an interrupted copy would.
	if err := os.WriteFile(set.Path(KubeScheduler), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Current(cache); err == nil || !strings.Contains(err.Error(), "kube-scheduler") {
		t.Fatalf("Current on a broken cache: err = %v, want one naming kube-scheduler", err)
	}
	if _, err := b.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := check(set.Dir, ControlPlane()); err != nil {
		t.Fatalf("cache still broken after Ensure: %v", err)
	}
}

func TestEnsureFailureNamesBinaryAndReason(t *testing.T) {
	src, cache := sourceTree(t), t.TempDir()
	b := &Builder{SourceDir: src, CacheDir: cache, GoCommand: fakeGo(t, "k8s.io/kubernetes/cmd/kube-scheduler")}
	_, err := b.Ensure(context.Background())
	if err == nil {
		t.Fatal("Ensure succeeded although a build failed")
	}
	for _, want := range []string{"build kube-scheduler", "undefined: something"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := Current(cache); err == nil {
		t.Error("a failed build was recorded as current")
	}
}

func TestEnsureWithoutGo(t *testing.T) {
	b := &Builder{SourceDir: sourceTree(t), CacheDir: t.TempDir(), GoCommand: "/nonexistent/go"}
	if _, err := b.Ensure(context.Background()); err == nil || !strings.Contains(err.Error(), "Go toolchain") {
		t.Fatalf("err = %v, want one about the Go toolchain", err)
	}
}

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	for _, bin := range All()[1:] {
		if err := os.WriteFile(filepath.Join(dir, bin.Name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CheckDir(dir); err == nil || !strings.Contains(err.Error(), "etcd") {
		t.Fatalf("CheckDir = %v, want an error naming etcd", err)
	}
}

func TestFindSource(t *testing.T) {
	src := sourceTree(t)
	root := filepath.Dir(filepath.Dir(src))
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := FindSource("", t.TempDir(), deep); got != src {
		t.Errorf("FindSource = %q, want %q", got, src)
	}
	if got := FindSource(t.TempDir()); got != "" {
		t.Errorf("FindSource in an unrelated tree = %q, want none", got)
	}
}

func TestLdflagsSetKubernetesVersion(t *testing.T) {
	for _, bin := range All() {
		flags := strings.Join(ldflags(bin), " ")
		hasVersion := strings.Contains(flags, "k8s.io/component-base/version.gitVersion="+bin.Version) &&
			strings.Contains(flags, "k8s.io/client-go/pkg/version.gitMinor=")
		if (bin.Module == "kubernetes") != hasVersion {
			t.Errorf("%s: ldflags %q", bin.Name, flags)
		}
	}
}

func TestIsPackageLine(t *testing.T) {
	tests := map[string]bool{
		"k8s.io/apiserver/pkg/server":            true,
		"# k8s.io/kubernetes/cmd/kube-apiserver": false,
		"./main.go:3:2: undefined: x":            false,
		"go: downloading k8s.io/api v0.37.2":     false,
		"":                                       false,
	}
	for line, want := range tests {
		if got := isPackageLine(line); got != want {
			t.Errorf("isPackageLine(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestControlPlaneKeyIsStable pins the control-plane kit's cache key for a
// fixed source tree and Go: the key computed before kits existed, so that
// the cache entries users already built stay valid. Change it only with
// formatVersion.
func TestControlPlaneKeyIsStable(t *testing.T) {
	b := &Builder{SourceDir: sourceTree(t), CacheDir: t.TempDir(), GoCommand: fakeGo(t, "")}
	if err := b.defaults(); err != nil {
		t.Fatal(err)
	}
	key, err := b.key(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "200d35987eb6e619"; key != want {
		t.Errorf("control-plane key = %s, want %s", key, want)
	}
}

func TestEnsureConformanceKit(t *testing.T) {
	src, cache := sourceTree(t), t.TempDir()
	goCmd, builds := countingGo(t)
	kit := Conformance()
	b := &Builder{SourceDir: src, CacheDir: cache, GoCommand: goCmd, Kit: kit}
	set, err := b.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(set.Dir, filepath.Join(cache, "conformance")+string(filepath.Separator)) {
		t.Errorf("set in %s, want under %s/conformance", set.Dir, cache)
	}
	if got := builds(); got != len(kit.Binaries) {
		t.Fatalf("Ensure ran %d builds, want %d", got, len(kit.Binaries))
	}
	for _, bin := range kit.Binaries {
		data, err := os.ReadFile(set.Path(bin.Name))
		if err != nil {
			t.Fatalf("binary %s: %v", bin.Name, err)
		}
		sub := "build"
		if bin.Name == E2ETest {
			sub = "test"
		}
		if !strings.Contains(string(data), sub+" "+bin.Package) {
			t.Errorf("%s was not built with go %s %s: %q", bin.Name, sub, bin.Package, data)
		}
	}
	for _, f := range []string{AgnhostCert, AgnhostKey} {
		if data, err := os.ReadFile(set.Path(f)); err != nil || string(data) != "contents of "+f {
			t.Errorf("file %s = %q, %v", f, data, err)
		}
	}
	if _, err := b.Ensure(context.Background()); err != nil || builds() != len(kit.Binaries) {
		t.Fatalf("a complete set was rebuilt (err %v, builds %d)", err, builds())
	}
	// A lost file makes the set incomplete.
	if err := os.Remove(set.Path(AgnhostKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ensure(context.Background()); err != nil || builds() != 2*len(kit.Binaries) {
		t.Fatalf("a set without %s was not rebuilt (err %v, builds %d)", AgnhostKey, err, builds())
	}
	if _, err := os.Stat(set.Path(AgnhostKey)); err != nil {
		t.Errorf("after the rebuild: %v", err)
	}
	// The control-plane kit of the same cache is untouched.
	if _, err := Current(cache); err == nil {
		t.Error("building the conformance kit recorded a current control-plane set")
	}
}

func TestLdflagsStampMainVersion(t *testing.T) {
	for _, bin := range Conformance().Binaries {
		flags := strings.Join(ldflags(bin), " ")
		if got := strings.Contains(flags, "main.Version="+bin.Version); got != (bin.Stamp == StampMain) {
			t.Errorf("%s: ldflags %q", bin.Name, flags)
		}
	}
}

package k8sbin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGo writes a stand-in for the go command that answers `go env` and
// turns `go build -o OUT PKG` into a small script, or fails for packages
// named in failFor.
func fakeGo(t *testing.T, failFor string) string {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
case "$1" in
env) echo go1.26-test; echo amd64; exit 0 ;;
build)
  out=""; pkg=""
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
  printf '#!/bin/sh\necho %s\n' "$pkg" > "$out"; chmod +x "$out"; exit 0 ;;
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
	for _, m := range []string{"etcd", "kubernetes"} {
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
	script := "#!/bin/sh\n[ \"$1\" = build ] && echo x >> " + log + "\nexec " + real + " \"$@\"\n"
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
	if err := check(set.Dir); err != nil {
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

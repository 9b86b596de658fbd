package version

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requiredVersion returns the version that go.mod at path requires of module.
func requiredVersion(t *testing.T, path, module string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	re := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`)
	m := re.FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s does not require %s", path, module)
	}
	return string(m[1])
}

func TestPinsMatchControlPlaneModules(t *testing.T) {
	root := filepath.Join("..", "..")
	tests := []struct {
		name   string
		gomod  string
		module string
		want   string
	}{
		{"kubernetes", "hack/controlplane/kubernetes/go.mod", "k8s.io/kubernetes", Kubernetes},
		{"etcd", "hack/controlplane/etcd/go.mod", "go.etcd.io/etcd/server/v3", Etcd},
		{"conformance", "hack/controlplane/conformance/go.mod", "k8s.io/kubernetes", Kubernetes},
		{"ginkgo", "hack/controlplane/conformance/go.mod", "github.com/onsi/ginkgo/v2", Ginkgo},
		{"client-go", "go.mod", "k8s.io/client-go", "v0" + strings.TrimPrefix(Kubernetes, "v1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := requiredVersion(t, filepath.Join(root, tc.gomod), tc.module)
			if got != tc.want {
				t.Errorf("%s requires %s %s, but internal/version says %s", tc.gomod, tc.module, got, tc.want)
			}
		})
	}
}

func TestInfoString(t *testing.T) {
	s := Get().String()
	for _, want := range []string{"vnode: " + Version, "kubernetes: " + Kubernetes, "etcd: " + Etcd, "go: go"} {
		if !strings.Contains(s, want) {
			t.Errorf("version output %q lacks %q", s, want)
		}
	}
}

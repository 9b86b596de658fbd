package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/k8sbin"
)

func TestGinkgoArgs(t *testing.T) {
	g := ginkgoRun{kit: k8sbin.Set{Dir: "/kit"}, controlPlane: k8sbin.Set{Dir: "/cp"}, kubeconfig: "/state/kubeconfig",
		results: "/results", repoList: "/results/repo-list.yaml", procs: 3, timeout: 45 * time.Minute, focus: "Pods should"}
	args := g.args()
	sep := slices.Index(args, "--")
	if sep < 1 || args[sep-1] != "/kit/e2e.test" {
		t.Fatalf("args %q: want ginkgo's flags, /kit/e2e.test, --, the suite's flags", args)
	}
	for _, want := range []string{"-p", "--procs=3", "--label-filter=Conformance && NodeConformance", "--timeout=45m0s", "--focus=Pods should"} {
		if !slices.Contains(args[:sep], want) {
			t.Errorf("ginkgo's flags %q lack %q", args[:sep], want)
		}
	}
	for _, want := range []string{"--kubeconfig=/state/kubeconfig", "--report-dir=/results",
		"--kube-test-repo-list=/results/repo-list.yaml", "--kubectl-path=/cp/kubectl", "--provider=skeleton"} {
		if !slices.Contains(args[sep+1:], want) {
			t.Errorf("the suite's flags %q lack %q", args[sep+1:], want)
		}
	}
	if g.focus = ""; slices.ContainsFunc(g.args(), func(a string) bool { return strings.HasPrefix(a, "--focus") }) {
		t.Error("--focus given without a focus")
	}
	if got := strings.Join(quoteAll([]string{"--label-filter=a && b", "plain", "it's"}), " "); got != `'--label-filter=a && b' plain 'it'\''s'` {
		t.Errorf("quoted: %s", got)
	}
}

func TestPrepareResultsRemovesOnlyARunsFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{junitFile, runInfoFile, logFile, "mine.txt", filepath.Join(logsDir, "node.log")} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := prepareResults(dir)
	if err != nil || got != dir {
		t.Fatalf("prepareResults = %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "mine.txt" {
		t.Errorf("left %v; want mine.txt alone", entries)
	}
}

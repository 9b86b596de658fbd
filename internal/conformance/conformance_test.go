package conformance

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestRepoListPointsEveryRegistryAtTheLocalOne(t *testing.T) {
	const host = "127.0.0.1:5000"
	path := filepath.Join(t.TempDir(), "repo-list.yaml")
	if err := WriteRepoList(path, RepoList(host)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The suite reads the file into a struct with these YAML keys.
	var read map[string]string
	if err := yaml.Unmarshal(data, &read); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	up := reflect.ValueOf(UpstreamRegistries())
	if len(read) != up.NumField() {
		t.Errorf("the list has %d registries, the suite %d:\n%s", len(read), up.NumField(), data)
	}
	for i := range up.NumField() {
		field := up.Type().Field(i)
		key := strings.Split(field.Tag.Get("json"), ",")[0]
		want := host + "/" + up.Field(i).String()
		if got := read[key]; got != want {
			t.Errorf("%s (%s) = %q, want %q", key, field.Name, got, want)
		}
	}
	for _, key := range []string{"promoterE2eRegistry", "gcRegistry", "invalidRegistry", "dockerLibraryRegistry"} {
		if _, ok := read[key]; !ok {
			t.Errorf("no %s in\n%s", key, data)
		}
	}
}

func TestTestImageRefs(t *testing.T) {
	list := RepoList("127.0.0.1:5000")
	refs := map[string]string{}
	for _, ti := range TestImages() {
		refs[ti.Name] = ti.Ref(list)
		if ti.StandIn == "" || ti.build == nil {
			t.Errorf("%s: no stand-in", ti.Name)
		}
	}
	want := map[string]string{
		"agnhost":    "127.0.0.1:5000/registry.k8s.io/e2e-test-images/agnhost:2.66.1",
		"busybox":    "127.0.0.1:5000/registry.k8s.io/e2e-test-images/busybox:1.37.0-2",
		"nonewprivs": "127.0.0.1:5000/registry.k8s.io/e2e-test-images/nonewprivs:1.4",
		"pause":      "127.0.0.1:5000/registry.k8s.io/pause:3.10.2",
	}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("refs = %v\nwant %v", refs, want)
	}
}

// sampleJUnit is shaped as the suite's junit_01.xml: suite nodes, a test
// skipped by the label filter, and selected tests that passed, failed,
// timed out and skipped themselves.
const sampleJUnit = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="7" disabled="2" errors="0" failures="2" time="120.5">
  <testsuite name="Kubernetes e2e suite" package="/tmp" tests="7" disabled="0" skipped="2" errors="0" failures="2" time="120.5" timestamp="2026-12-03T17:00:00">
    <properties><property name="SuiteSucceeded" value="false"></property></properties>
    <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="3.1"></testcase>
    <testcase name="[It] [sig-apps] Deployment should run the lifecycle of a Deployment [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
    <testcase name="[It] [sig-node] Pods should get a host IP [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="passed" time="4.2"></testcase>
    <testcase name="[It] [sig-node] Lifecycle Hook should execute poststart http hook properly [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="failed" time="300"><failure message="" type="failed">[FAILED] Timed out after 300.000s.&#xA;Expected&#xA;    &lt;bool&gt;: false&#xA;to be true&#xA;In [It] at: lifecycle_hook.go:140&#xA;</failure></testcase>
    <testcase name="[It] [sig-node] Pods should be updated [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0"><skipped message="skipped"></skipped></testcase>
    <testcase name="[It] [sig-network] Networking should function for node-pod communication: http [LinuxOnly] [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="failed" time="60.0"><failure message="" type="failed">[FAILED] failed to reach the host network pod&#xA;In [It] at: test/e2e/framework/network/utils.go:866 @ 12/03/26 17:01:00.000&#xA;</failure><system-err>log</system-err></testcase>
    <testcase name="[It] [sig-node] Probing container should be restarted with a exec &#34;cat /tmp/health&#34; liveness probe [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="timedout" time="300"><failure message="" type="timedout">[TIMEDOUT] A suite timeout occurred&#xA;</failure></testcase>
    <testcase name="[It] [sig-node] Downward API should provide host IP as an env var [NodeConformance] [Conformance]" classname="Kubernetes e2e suite" status="skipped" time="0.1"><skipped message="skipped - Only supported for providers [gce]"></skipped></testcase>
    <testcase name="[ReportAfterSuite] Kubernetes e2e suite report" classname="Kubernetes e2e suite" status="failed" time="0.2"><failure message="" type="failed">[FAILED] could not write&#xA;</failure></testcase>
  </testsuite>
</testsuites>`

func TestParseJUnit(t *testing.T) {
	r, err := ParseJUnit([]byte(sampleJUnit))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, res := range r.Results {
		got = append(got, res.State+" "+res.Name+" | "+res.Detail)
	}
	want := []string{
		"failed [sig-network] Networking should function for node-pod communication: http [LinuxOnly] [NodeConformance] [Conformance] | failed to reach the host network pod",
		"skipped [sig-node] Downward API should provide host IP as an env var [NodeConformance] [Conformance] | Only supported for providers [gce]",
		"failed [sig-node] Lifecycle Hook should execute poststart http hook properly [NodeConformance] [Conformance] | Timed out after 300.000s. Expected <bool>: false to be true",
		"not run [sig-node] Pods should be updated [NodeConformance] [Conformance] | ",
		"passed [sig-node] Pods should get a host IP [NodeConformance] [Conformance] | ",
		`failed [sig-node] Probing container should be restarted with a exec "cat /tmp/health" liveness probe [NodeConformance] [Conformance] | timedout: A suite timeout occurred`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.Count(StatePassed) != 1 || r.Count(StateFailed) != 3 || r.Count(StateSkipped) != 1 {
		t.Errorf("counts: %d passed, %d failed, %d skipped", r.Count(StatePassed), r.Count(StateFailed), r.Count(StateSkipped))
	}
	if len(r.SuiteFailures) != 1 || !strings.Contains(r.SuiteFailures[0].Name, "ReportAfterSuite") || r.SuiteFailures[0].Detail != "could not write" {
		t.Errorf("suite failures = %+v", r.SuiteFailures)
	}
	if r.Results[0].Seconds != 60 {
		t.Errorf("seconds = %v", r.Results[0].Seconds)
	}
	if _, err := ParseJUnit([]byte("<testsuites><testsuite>")); err == nil {
		t.Error("a truncated report parsed")
	}
}

func TestRenderResultsAndWriteDoc(t *testing.T) {
	r, err := ParseJUnit([]byte(sampleJUnit))
	if err != nil {
		t.Fatal(err)
	}
	reasons := []Reason{{Test: "node-pod communication", Why: "the | test reaches the node's own network", Inherent: true},
		{Test: "should provide host IP", Why: "never reached"}, {Test: "Pods should be updated", Why: "not run either", StandIn: true}}
	info := RunInfo{Date: time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC), Commit: "0123456789abcdef0123", Subject: "a commit",
		Machine: "Debian 12, 2 CPUs", Command: "make conformance", BuildTime: 90 * time.Second, SuiteTime: 121 * time.Second}
	out := RenderResults(info, r, reasons)
	for _, want := range []string{
		"### Run of 2026-12-03 17:00 UTC",
		"- Commit: `0123456789ab` (a commit)",
		"- Command: `make conformance`",
		"- Build (binaries, images): 1m30s; suite: 2m1s",
		"**1 passed, 3 failed, 1 skipped** of 6 tests (1 not run: left out by the focus)",
		"- Suite node failed: [ReportAfterSuite] Kubernetes e2e suite report: could not write",
		"- the \\| test reaches the node's own network (cannot pass on a virtual node, 1): [sig-network] Networking",
		"- Not yet classified (unexplained, 2): [sig-node] Lifecycle Hook",
		"| [sig-node] Pods should get a host IP [NodeConformance] [Conformance] | passed |  |",
		"| failed | cannot pass on a virtual node: the \\| test reaches the node's own network |",
		"| failed | not yet classified: timedout: A suite timeout occurred |",
		"| skipped | skipped: Only supported for providers [gce] |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered results lack %q:\n%s", want, out)
		}
	}
	if got := RenderResults(RunInfo{Commit: "0123456789abcdef-dirty"}, r, nil); !strings.Contains(got, "- Commit: `0123456789ab-dirty`") {
		t.Errorf("a dirty commit is not marked:\n%s", got)
	}
	if got := UnexpectedFailures(r, reasons); len(got) != 2 || !strings.Contains(got[1].Name, "Probing container") {
		t.Errorf("unexpected failures = %+v", got)
	}

	doc := filepath.Join(t.TempDir(), "conformance.md")
	before := "# Title\n\nprose\n\n" + BeginMarker + "\nold results\n" + EndMarker + "\n\nafter\n"
	if err := os.WriteFile(doc, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := WriteDoc(doc, out); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Title\n\nprose\n\n" + BeginMarker + "\n\n" + out + "\n" + EndMarker + "\n\nafter\n"
	if string(data) != want {
		t.Errorf("document:\n%s\nwant:\n%s", data, want)
	}
	if err := os.WriteFile(doc, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDoc(doc, out); err == nil {
		t.Error("WriteDoc succeeded on a document without markers")
	}
}

func TestReasonsAreSpecific(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range KnownReasons() {
		if len(r.Test) < 18 || r.Why == "" {
			t.Errorf("reason %+v: a test name part of 18 characters or more and an explanation are needed", r)
		}
		if seen[r.Test] {
			t.Errorf("reason for %q given twice", r.Test)
		}
		seen[r.Test] = true
	}
}

func TestStandInFailuresAreNotUnexpected(t *testing.T) {
	r, err := ParseJUnit([]byte(sampleJUnit))
	if err != nil {
		t.Fatal(err)
	}
	reasons := []Reason{{Test: "exec \"cat /tmp/health\" liveness", Why: "the stand-in lacks cat", StandIn: true}}
	for _, f := range UnexpectedFailures(r, reasons) {
		if strings.Contains(f.Name, "Probing container") {
			t.Errorf("a stand-in failure is unexpected: %s", f.Name)
		}
	}
	out := RenderResults(RunInfo{}, r, reasons)
	for _, want := range []string{"- the stand-in lacks cat (stand-in image, not vnode, 1): [sig-node] Probing container",
		"| failed | stand-in image, not vnode: the stand-in lacks cat |"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered results lack %q:\n%s", want, out)
		}
	}
}

package cri

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// denyMkdir is a seccomp profile that allows everything but mkdir.
const denyMkdir = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`

// Every container runs under a seccomp profile: the runtime's default, or
// the one its spec brings, written where containerd loads it.
func TestSecurityContextSeccomp(t *testing.T) {
	r := offline(t)
	sc, err := r.securityContext("g1", runtime.ContainerSpec{Name: "plain"})
	if err != nil || sc.Seccomp.GetProfileType() != runtimeapi.SecurityProfile_RuntimeDefault {
		t.Errorf("no security context: %v, %v; want RuntimeDefault", sc, err)
	}
	sc, err = r.securityContext("g1", runtime.ContainerSpec{Name: "own",
		SecurityContext: &runtime.SecurityContext{SeccompProfile: base64.StdEncoding.EncodeToString([]byte(denyMkdir))}})
	if err != nil || sc.Seccomp.GetProfileType() != runtimeapi.SecurityProfile_Localhost {
		t.Fatalf("own profile: %v, %v; want Localhost", sc, err)
	}
	if data, err := os.ReadFile(sc.Seccomp.LocalhostRef); err != nil || string(data) != denyMkdir {
		t.Errorf("profile file %s: %q, %v", sc.Seccomp.LocalhostRef, data, err)
	}
	var rerr *runtime.Error
	if _, err := r.securityContext("g1", runtime.ContainerSpec{Name: "bad",
		SecurityContext: &runtime.SecurityContext{SeccompProfile: "{}"}}); !errors.As(err, &rerr) {
		t.Errorf("a profile that is not base64: %v", err)
	}
}

// capNetAdmin is CAP_NET_ADMIN's bit in /proc/PID/status's CapEff.
const capNetAdmin = 12

func TestSecurityOnContainerd(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	sleeper := func(name string, sc *runtime.SecurityContext) runtime.ContainerSpec {
		return runtime.ContainerSpec{Name: name, Image: w.shell, Command: []string{"/bin/sleep", "3600"}, SecurityContext: sc}
	}
	spec := runtime.GroupSpec{ID: "g-sec", Name: "sec", RestartPolicy: runtime.RestartNever, Containers: []runtime.ContainerSpec{
		sleeper("plain", nil),
		sleeper("own", &runtime.SecurityContext{SeccompProfile: base64.StdEncoding.EncodeToString([]byte(denyMkdir))}),
		sleeper("netadmin", &runtime.SecurityContext{CapabilitiesAdd: []string{"NET_ADMIN"}}),
	}}
	if err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	status := func(container, field string) string {
		out, _ := execOut(t, r, "g-sec", container, "grep", field+":", "/proc/self/status")
		return strings.TrimSpace(strings.TrimPrefix(out, field+":"))
	}
	// Seccomp mode 2 is a filter: the runtime's default profile.
	if got := status("plain", "Seccomp"); got != "2" {
		t.Errorf("a container without a profile runs with seccomp mode %q, want 2 (filter)", got)
	}
	if hasCap(t, status("plain", "CapEff"), capNetAdmin) {
		t.Error("a container without added capabilities has NET_ADMIN")
	}
	if !hasCap(t, status("netadmin", "CapEff"), capNetAdmin) {
		t.Error("a container that adds NET_ADMIN lacks it")
	}
	if out, code := execOut(t, r, "g-sec", "own", "mkdir", "/tmp/x"); code == 0 {
		t.Errorf("mkdir under a profile that denies it: %q", out)
	}
	if _, code := execOut(t, r, "g-sec", "plain", "mkdir", "/tmp/x"); code != 0 {
		t.Error("mkdir under the default profile failed")
	}
}

func hasCap(t *testing.T, capEff string, bit uint) bool {
	t.Helper()
	v, err := strconv.ParseUint(capEff, 16, 64)
	if err != nil {
		t.Fatalf("CapEff %q: %v", capEff, err)
	}
	return v&(1<<bit) != 0
}

package cri

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/wire"
)

// denyMkdir is a seccomp profile that allows everything but mkdir.
const denyMkdir = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`

// Every container runs under a seccomp profile: the runtime's default,
// the one its spec brings, written where containerd loads it, or none when
// it asks to be unconfined.
func TestSecurityContextSeccomp(t *testing.T) {
	r := offline(t)
	ctx, spec := context.Background(), runtime.GroupSpec{ID: "g1"}
	sc, err := r.securityContext(ctx, spec, runtime.ContainerSpec{Name: "plain"})
	if err != nil || sc.Seccomp.GetProfileType() != runtimeapi.SecurityProfile_RuntimeDefault {
		t.Errorf("no security context: %v, %v; want RuntimeDefault", sc, err)
	}
	sc, err = r.securityContext(ctx, spec, runtime.ContainerSpec{Name: "own",
		SecurityContext: &runtime.SecurityContext{SeccompProfile: base64.StdEncoding.EncodeToString([]byte(denyMkdir))}})
	if err != nil || sc.Seccomp.GetProfileType() != runtimeapi.SecurityProfile_Localhost {
		t.Fatalf("own profile: %v, %v; want Localhost", sc, err)
	}
	if data, err := os.ReadFile(sc.Seccomp.LocalhostRef); err != nil || string(data) != denyMkdir {
		t.Errorf("profile file %s: %q, %v", sc.Seccomp.LocalhostRef, data, err)
	}
	var rerr *runtime.Error
	if _, err := r.securityContext(ctx, spec, runtime.ContainerSpec{Name: "bad",
		SecurityContext: &runtime.SecurityContext{SeccompProfile: "{}"}}); !errors.As(err, &rerr) {
		t.Errorf("a profile that is not base64: %v", err)
	}
	sc, err = r.securityContext(ctx, spec, runtime.ContainerSpec{Name: "free",
		SecurityContext: &runtime.SecurityContext{SeccompProfileType: wire.SeccompUnconfined}})
	if err != nil || sc.Seccomp.GetProfileType() != runtimeapi.SecurityProfile_Unconfined {
		t.Errorf("unconfined: %v, %v", sc, err)
	}
}

// imageUsers is an image service that knows the users of images only.
type imageUsers struct {
	runtimeapi.ImageServiceClient
	users map[string]*runtimeapi.Image
}

func (f imageUsers) ImageStatus(_ context.Context, req *runtimeapi.ImageStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ImageStatusResponse, error) {
	return &runtimeapi.ImageStatusResponse{Image: f.users[req.GetImage().GetImage()]}, nil
}

// The CRI security context carries users, groups, no_new_privs, a
// read-only root and the group's supplemental groups; runAsNonRoot
// refuses, with the kubelet's words, a container that would run as root:
// by its runAsUser, by its image's user (none is root), or by an image user
// that is a name and cannot be verified.
func TestSecurityContextUsers(t *testing.T) {
	r := offline(t)
	r.o.Images = imageUsers{users: map[string]*runtimeapi.Image{
		"root":    {Id: "root"},
		"nonroot": {Id: "nonroot", Uid: &runtimeapi.Int64Value{Value: 1234}},
		"named":   {Id: "named", Username: "nobody"},
	}}
	spec := runtime.GroupSpec{ID: "g1", Name: "default-web", SupplementalGroups: []int64{5000, 6000},
		Labels: map[string]string{"tag.PodName": "web", "tag.Namespace": "default", "tag.UID": "u1"}}
	ctx := context.Background()
	u := func(v int64) *int64 { return &v }
	no := false
	for _, tc := range []struct {
		name, image string
		sc          runtime.SecurityContext
		want        string // the configError, if any
		user        *int64
		group       *int64
		username    string
	}{
		{name: "explicit", image: "root", sc: runtime.SecurityContext{RunAsUser: u(65534), RunAsGroup: u(65534), RunAsNonRoot: true},
			user: u(65534), group: u(65534)},
		{name: "explicit-root", image: "nonroot", sc: runtime.SecurityContext{RunAsUser: u(0), RunAsNonRoot: true},
			want: `container's runAsUser breaks non-root policy (pod: "web_default(u1)", container: explicit-root)`},
		{name: "image-root", image: "root", sc: runtime.SecurityContext{RunAsNonRoot: true},
			want: `container has runAsNonRoot and image will run as root (pod: "web_default(u1)", container: image-root)`},
		{name: "image-nonroot", image: "nonroot", sc: runtime.SecurityContext{RunAsNonRoot: true}, user: u(1234)},
		{name: "image-named", image: "named", sc: runtime.SecurityContext{RunAsNonRoot: true},
			want: `container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root (pod: "web_default(u1)", container: image-named)`},
		{name: "group-only", image: "named", sc: runtime.SecurityContext{RunAsGroup: u(7)}, group: u(7), username: "nobody"},
		{name: "group-only-root", image: "root", sc: runtime.SecurityContext{RunAsGroup: u(7)}, group: u(7), user: u(0)},
		{name: "root-allowed", image: "root", sc: runtime.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := r.securityContext(ctx, spec, runtime.ContainerSpec{Name: tc.name, Image: tc.image, SecurityContext: &tc.sc})
			var cfgErr *configError
			if tc.want != "" {
				if !errors.As(err, &cfgErr) || cfgErr.msg != tc.want {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := sc.GetRunAsUser(); (got == nil) != (tc.user == nil) || got != nil && got.Value != *tc.user {
				t.Errorf("run as user %v, want %v", got, tc.user)
			}
			if got := sc.GetRunAsGroup(); (got == nil) != (tc.group == nil) || got != nil && got.Value != *tc.group {
				t.Errorf("run as group %v, want %v", got, tc.group)
			}
			if sc.RunAsUsername != tc.username {
				t.Errorf("run as user name %q, want %q", sc.RunAsUsername, tc.username)
			}
			if len(sc.SupplementalGroups) != 2 || sc.SupplementalGroups[1] != 6000 {
				t.Errorf("supplemental groups %v", sc.SupplementalGroups)
			}
			if sc.NoNewPrivs != (tc.sc.AllowPrivilegeEscalation != nil) || sc.ReadonlyRootfs != tc.sc.ReadOnlyRootFilesystem {
				t.Errorf("no_new_privs %v, readonly_rootfs %v", sc.NoNewPrivs, sc.ReadonlyRootfs)
			}
		})
	}
	if got := podRef(runtime.GroupSpec{Name: "g"}); got != "g" {
		t.Errorf("a group without the pod's tags is named %q", got)
	}
}

// The sandbox gets the group's sysctls; the runtime refuses any outside
// the safe set, and values that are not one line, whoever asks.
func TestSysctls(t *testing.T) {
	r := offline(t)
	spec := runtime.GroupSpec{ID: "g1", Name: "g", Sysctls: map[string]string{"net.ipv4.ip_local_port_range": "1024 65000"}}
	if err := checkSpec(spec); err != nil {
		t.Fatal(err)
	}
	if got := r.sandboxConfig(spec).Linux.Sysctls; got["net.ipv4.ip_local_port_range"] != "1024 65000" || len(got) != 1 {
		t.Errorf("sandbox sysctls %v", got)
	}
	for _, bad := range []map[string]string{
		{"kernel.core_pattern": "|/tmp/x"},
		{"kernel/shm_rmid_forced": "1"},
		{"net.ipv4.tcp_syncookies": "1\nkernel.core_pattern=x"},
		{"net.ipv4.tcp_syncookies": ""},
	} {
		var rerr *runtime.Error
		if err := checkSpec(runtime.GroupSpec{ID: "g", Sysctls: bad}); !errors.As(err, &rerr) {
			t.Errorf("sysctls %q: %v", bad, err)
		}
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

// pushNonRoot pushes the shell image with user 1234 to the world's
// registry and returns its reference.
func pushNonRoot(t *testing.T, w *world) string {
	t.Helper()
	ctx := context.Background()
	var b images.Builder
	img, err := b.Shell(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.User = "1234"
	if img, err = mutate.Config(img, cfg); err != nil {
		t.Fatal(err)
	}
	ref := w.reg.Host() + "/vnode/shell-nonroot:1"
	if err := images.Push(ctx, img, ref, nil, true); err != nil {
		t.Fatal(err)
	}
	return ref
}

// On containerd, the security context does what Kubernetes' does: users,
// groups and supplemental groups, a read-only root, no_new_privs, dropped
// capabilities, no seccomp profile, the group's sysctls; and a container
// that must not run as root and would waits with CreateContainerConfigError
// and is tried again, while the others run.
func TestSecurityContextOnContainerd(t *testing.T) {
	w := setup(t)
	nonRootImage := pushNonRoot(t, w)
	r := w.runtime(t)
	ctx := context.Background()
	var seen events
	r.Watch(ctx, seen.add)
	u := func(v int64) *int64 { return &v }
	no := false
	sleeper := func(name, image string, sc *runtime.SecurityContext) runtime.ContainerSpec {
		return runtime.ContainerSpec{Name: name, Image: image, Command: []string{"/bin/sleep", "3600"}, SecurityContext: sc}
	}
	spec := runtime.GroupSpec{ID: "g-secctx", Name: "secctx", RestartPolicy: runtime.RestartAlways,
		SupplementalGroups: []int64{5000},
		Sysctls:            map[string]string{"net.ipv4.ip_local_port_range": "2000 60000", "kernel.shm_rmid_forced": "1"},
		Containers: []runtime.ContainerSpec{
			sleeper("ids", w.shell, &runtime.SecurityContext{RunAsUser: u(65534), RunAsGroup: u(65534), RunAsNonRoot: true}),
			sleeper("image-user", nonRootImage, &runtime.SecurityContext{RunAsNonRoot: true}),
			sleeper("locked", w.shell, &runtime.SecurityContext{ReadOnlyRootFilesystem: true, AllowPrivilegeEscalation: &no,
				CapabilitiesDrop: []string{"ALL"}, SeccompProfileType: wire.SeccompUnconfined}),
			sleeper("root", w.shell, &runtime.SecurityContext{RunAsNonRoot: true}),
		}}
	if err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if out, _ := execOut(t, r, "g-secctx", "ids", "id"); !strings.Contains(out, "uid=65534") ||
		!strings.Contains(out, "gid=65534") || !strings.Contains(out, "5000") {
		t.Errorf("id with runAsUser, runAsGroup and a supplemental group: %q", out)
	}
	if out, _ := execOut(t, r, "g-secctx", "image-user", "id", "-u"); strings.TrimSpace(out) != "1234" {
		t.Errorf("id -u of the non-root image: %q", out)
	}
	if out, code := execOut(t, r, "g-secctx", "locked", "touch", "/written"); code == 0 {
		t.Errorf("a write to a read-only root succeeded: %q", out)
	}
	if _, code := execOut(t, r, "g-secctx", "ids", "touch", "/tmp/written"); code != 0 {
		t.Error("a write to a writable root (/tmp) failed")
	}
	status := func(container, field string) string {
		out, _ := execOut(t, r, "g-secctx", container, "grep", field+":", "/proc/self/status")
		return strings.TrimSpace(strings.TrimPrefix(out, field+":"))
	}
	if got := status("locked", "NoNewPrivs"); got != "1" {
		t.Errorf("NoNewPrivs %q with allowPrivilegeEscalation false", got)
	}
	if got := status("ids", "NoNewPrivs"); got != "0" {
		t.Errorf("NoNewPrivs %q by default", got)
	}
	if got := status("locked", "CapEff"); got != "0000000000000000" {
		t.Errorf("CapEff %q after dropping ALL", got)
	}
	if got := status("locked", "Seccomp"); got != "0" {
		t.Errorf("seccomp mode %q when unconfined, want 0", got)
	}
	for name, want := range map[string]string{"net/ipv4/ip_local_port_range": "2000\t60000", "kernel/shm_rmid_forced": "1"} {
		if out, _ := execOut(t, r, "g-secctx", "ids", "cat", "/proc/sys/"+name); strings.TrimSpace(out) != want {
			t.Errorf("sysctl %s is %q, want %q", name, out, want)
		}
	}
	c := state(t, r, "g-secctx", "root")
	want := "container has runAsNonRoot and image will run as root (pod: \"secctx\", container: root)"
	if c.Current.State != runtime.StateWaiting || c.Current.DetailStatus != "CreateContainerConfigError" || c.Current.Message != want {
		t.Errorf("a root container that must not run as root: %+v", c.Current)
	}
	// The kubelet tries again; so does the runtime, after its back-off.
	waitFor(t, "a second try of the root container", func() (bool, string) {
		names := seen.names("root")
		return strings.Count(names, "Failed") >= 2, names
	})
	if names := seen.names("root"); strings.Contains(names, "Created") {
		t.Errorf("the root container was created: %s", names)
	}
	// A runtime opened again (the service restarted) tries it again too.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = w.runtime(t)
	waitFor(t, "the root container waiting again after a restart", func() (bool, string) {
		c := state(t, r, "g-secctx", "root")
		return c.Current.DetailStatus == "CreateContainerConfigError" && c.Current.Message == want, fmt.Sprint(c.Current)
	})
	if c := state(t, r, "g-secctx", "ids"); c.Current.State != runtime.StateRunning {
		t.Errorf("a running container after the restart: %+v", c.Current)
	}
	if err := r.Remove(ctx, "g-secctx", 0); err != nil {
		t.Fatal(err)
	}

	// An init container that must not run as root and would waits for its
	// configuration, as on a kubelet: the group is deployed, and the
	// containers after the init container do not start meanwhile.
	if err := r.Run(ctx, runtime.GroupSpec{ID: "g-initroot", Name: "initroot", RestartPolicy: runtime.RestartAlways,
		InitContainers: []runtime.ContainerSpec{{Name: "setup", Image: w.shell, Command: []string{"true"},
			SecurityContext: &runtime.SecurityContext{RunAsNonRoot: true}}},
		Containers: []runtime.ContainerSpec{sleeper("main", w.shell, nil)}}); err != nil {
		t.Fatalf("Run of a group whose init container waits for its configuration: %v", err)
	}
	waitFor(t, "the init container waiting for its configuration", func() (bool, string) {
		st, err := r.Status(ctx, "g-initroot")
		if err != nil || len(st.InitContainers) != 1 {
			return false, fmt.Sprint(st, err)
		}
		cur := st.InitContainers[0].Current
		return cur.DetailStatus == "CreateContainerConfigError" && st.Containers[0].Current.State == runtime.StateWaiting, fmt.Sprint(st)
	})
	if err := r.Remove(ctx, "g-initroot", 0); err != nil {
		t.Fatal(err)
	}
}

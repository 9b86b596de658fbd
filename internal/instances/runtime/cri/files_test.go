package cri

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/mounts"
)

// layout describes a secret volume directory: each entry's name, and a
// symlink's target after "->"; hidden data directories show as "..DATA".
func layout(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		switch target, err := os.Readlink(filepath.Join(dir, name)); {
		case err == nil && strings.HasPrefix(target, "..2"):
			out = append(out, name+" -> ..DATA")
		case err == nil:
			out = append(out, name+" -> "+target)
		case e.IsDir() && strings.HasPrefix(name, "..2"):
			out = append(out, "..DATA")
		default:
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func readAll(t *testing.T, dir string, names ...string) string {
	t.Helper()
	var parts []string
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, n+"="+string(data))
	}
	return strings.Join(parts, " ")
}

// The kubelet's AtomicWriter layout: data in one hidden directory, "..data"
// linking to it, each name linking through "..data".
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := writeAtomic(dir, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, fileAttrs{}, now); err != nil {
		t.Fatal(err)
	}
	want := []string{"..DATA", "..data -> ..DATA", "a -> ..data/a", "b -> ..data/b"}
	if got := layout(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("layout %q, want %q", got, want)
	}
	first, _ := os.Readlink(filepath.Join(dir, dataLink))
	if !strings.HasPrefix(first, "..2026_05_06_07_08_09.") {
		t.Errorf("data directory %q is not named by its time", first)
	}
	if fi, err := os.Stat(filepath.Join(dir, first)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("data directory mode %v, %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, %v", fi.Mode(), err)
	}

	// The same files: nothing is written.
	if err := writeAtomic(dir, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, fileAttrs{}, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, dataLink)); again != first {
		t.Errorf("an unchanged write swapped the data: %s → %s", first, again)
	}

	// An update: a changes, b goes, c comes; the old data directory goes.
	if err := writeAtomic(dir, map[string][]byte{"a": []byte("3"), "c": []byte("4")}, fileAttrs{}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	want = []string{"..DATA", "..data -> ..DATA", "a -> ..data/a", "c -> ..data/c"}
	if got := layout(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("layout after the update %q, want %q", got, want)
	}
	if second, _ := os.Readlink(filepath.Join(dir, dataLink)); second == first {
		t.Error("the update kept the old data directory")
	}
	if got := readAll(t, dir, "a", "c"); got != "a=3 c=4" {
		t.Errorf("files %s", got)
	}

	// No files at all.
	if err := writeAtomic(dir, map[string][]byte{}, fileAttrs{}, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := layout(t, dir); !reflect.DeepEqual(got, []string{"..DATA", "..data -> ..DATA"}) {
		t.Errorf("layout without files %q", got)
	}

	for _, bad := range []string{"..data", "..x", ".", "", "/a", "a/", "a//b", "a/./b", "a/../b", "..x/b",
		strings.Repeat("x", 256)} {
		if err := writeAtomic(dir, map[string][]byte{bad: nil}, fileAttrs{}, now); !errors.Is(err, errBadFileName) {
			t.Errorf("file name %q: %v, want errBadFileName", bad, err)
		}
	}
	if err := writeAtomic(dir, map[string][]byte{"a": nil, "a/b": nil}, fileAttrs{}, now); !errors.Is(err, errBadFileName) {
		t.Errorf("a file that is also a directory: %v, want errBadFileName", err)
	}
}

// Nested names (a ConfigMap item's path "path/to/data-2") are written as a
// tree in the data directory, the top-level directory linked through
// "..data" as the kubelet's AtomicWriter does, so one swap changes them all.
func TestWriteAtomicNested(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	files := map[string][]byte{"path/to/data-2": []byte("value-2"), "path/other": []byte("o"), "top": []byte("t"),
		"a/..b": []byte("dots inside")}
	modes := func(name string) uint32 {
		if name == "path/to/data-2" {
			return 0o400
		}
		return 0o644
	}
	if err := writeAtomic(dir, files, fileAttrs{modes: modes}, now); err != nil {
		t.Fatal(err)
	}
	want := []string{"..DATA", "..data -> ..DATA", "a -> ..data/a", "path -> ..data/path", "top -> ..data/top"}
	if got := layout(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("layout %q, want %q", got, want)
	}
	if got := readAll(t, dir, "path/to/data-2", "path/other", "top", "a/..b"); got != "path/to/data-2=value-2 path/other=o top=t a/..b=dots inside" {
		t.Errorf("files %s", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "path/to/data-2")); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("nested file mode %v, %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "path/to")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("nested directory mode %v, %v", fi.Mode(), err)
	}
	first, _ := os.Readlink(filepath.Join(dir, dataLink))

	// The same tree: nothing is written.
	if err := writeAtomic(dir, files, fileAttrs{modes: modes}, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, dataLink)); again != first {
		t.Errorf("an unchanged nested write swapped the data: %s → %s", first, again)
	}

	// A changed mode deep in the tree is a change.
	if err := writeAtomic(dir, files, fileAttrs{}, now.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, dataLink)); again == first {
		t.Error("a nested file's new mode was not written")
	}

	// The file moves to another directory: the old directories go with the
	// old data, the old top-level link goes.
	moved := map[string][]byte{"new/place/data-2": []byte("value-2")}
	if err := writeAtomic(dir, moved, fileAttrs{}, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, want := layout(t, dir), []string{"..DATA", "..data -> ..DATA", "new -> ..data/new"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("layout after the move %q, want %q", got, want)
	}
	if got := readAll(t, dir, "new/place/data-2"); got != "new/place/data-2=value-2" {
		t.Errorf("files %s", got)
	}
	// A stray directory in the data (not one the names pass through) is a
	// difference, and the next write replaces it.
	data, _ := os.Readlink(filepath.Join(dir, dataLink))
	if err := os.Mkdir(filepath.Join(dir, data, "new", "stray"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(dir, moved, fileAttrs{}, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new", "stray")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stray directory stayed: %v", err)
	}
}

// A volume written as plain files (by an earlier version) takes the new
// layout on its next write.
func TestWriteAtomicOverPlainFiles(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"a": "old", "gone": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeAtomic(dir, map[string][]byte{"a": []byte("new")}, fileAttrs{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, want := layout(t, dir), []string{"..DATA", "..data -> ..DATA", "a -> ..data/a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("layout %q, want %q", got, want)
	}
	if got := readAll(t, dir, "a"); got != "a=new" {
		t.Errorf("file %s", got)
	}
}

func TestHostsFile(t *testing.T) {
	const header = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
	aliases := []runtime.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar"}}, {IP: "fd00::1", Hostnames: []string{"six"}}}
	cases := []struct {
		name string
		spec runtime.GroupSpec
		ip   string
		want string
	}{
		{"the group's name", runtime.GroupSpec{Name: "web"}, "10.0.0.2", header + "10.0.0.2\tweb\n"},
		{"a hostname", runtime.GroupSpec{Name: "web", Hostname: "web-0"}, "10.0.0.2", header + "10.0.0.2\tweb-0\n"},
		{"an fqdn", runtime.GroupSpec{Name: "web", Hostname: "web-0", FQDN: "web-0.web.ns.svc.cluster.local"}, "10.0.0.2",
			header + "10.0.0.2\tweb-0.web.ns.svc.cluster.local\tweb-0\n"},
		{"a hostname as fqdn", runtime.GroupSpec{Name: "web", Hostname: "web-0.web.ns.svc", FQDN: "web-0.web.ns.svc"}, "10.0.0.2",
			header + "10.0.0.2\tweb-0.web.ns.svc\tweb-0\n"},
		{"host aliases", runtime.GroupSpec{Name: "web", HostAliases: aliases}, "10.0.0.2",
			header + "10.0.0.2\tweb\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar\nfd00::1\tsix\n"},
		{"no IP", runtime.GroupSpec{Name: "web"}, "", header},
	}
	for _, tc := range cases {
		if got := string(hostsFile(tc.spec, tc.ip)); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// offline is a runtime with no CRI behind it, for what touches only files.
func offline(t *testing.T) *Runtime {
	return &Runtime{o: Options{Dir: t.TempDir(), Clock: clock.RealClock{}, Sealer: testSealer(t)}, groups: map[string]*group{}}
}

// A container's variables filled from the group get its IP, and names
// that Kubernetes allows (data-1, a.b) reach CRI as written; the group's
// hosts file is its /etc/hosts unless it mounts a volume there.
func TestContainerConfigHostsAndEnv(t *testing.T) {
	r := offline(t)
	spec := runtime.GroupSpec{ID: "g1", Name: "g", Volumes: []runtime.Volume{{Name: "etc", EmptyDir: true}},
		Containers: []runtime.ContainerSpec{
			{Name: "a", Env: []runtime.EnvVar{{Name: "X", Value: "1"}, {Name: "POD_IP", FromField: runtime.FieldPodIP},
				{Name: "data-1", Value: "d"}, {Name: "a.b", Value: "s", Secure: true}, {Name: "pod.ip", FromField: runtime.FieldPodIP}}},
			{Name: "b", VolumeMounts: []runtime.VolumeMount{{Name: "etc", MountPath: "/etc/hosts/"}}},
		}}
	g := newGroup(spec)
	g.ip = "10.0.0.9"
	mounts := map[string]string{"etc": "/host/etc"}
	cfg, err := r.containerConfig(context.Background(), g, g.mains[0], mounts)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range cfg.Envs {
		env[kv.Key] = string(kv.Value)
	}
	if !reflect.DeepEqual(env, map[string]string{"X": "1", "POD_IP": "10.0.0.9", "data-1": "d", "a.b": "s", "pod.ip": "10.0.0.9"}) {
		t.Errorf("env %v", env)
	}
	if len(cfg.Mounts) != 1 || cfg.Mounts[0].ContainerPath != "/etc/hosts" || cfg.Mounts[0].HostPath != r.hostsPath("g1") {
		t.Errorf("mounts of a: %v", cfg.Mounts)
	}
	cfg, err = r.containerConfig(context.Background(), g, g.mains[1], mounts)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Mounts) != 1 || cfg.Mounts[0].HostPath != "/host/etc" {
		t.Errorf("mounts of b, which mounts its own /etc/hosts: %v", cfg.Mounts)
	}
}

// Command and args reach containerd apart, which applies the image's
// entrypoint and arguments to what is missing.
func TestContainerConfigCommandAndArgs(t *testing.T) {
	r := offline(t)
	spec := runtime.GroupSpec{ID: "g1", Name: "g", Containers: []runtime.ContainerSpec{
		{Name: "both", Command: []string{"/bin/sh", "-c"}, Args: []string{"echo $(X)"}},
		{Name: "args", Args: []string{"-c", "echo hi"}},
		{Name: "command", Command: []string{"/hello"}},
		{Name: "neither"},
	}}
	g := newGroup(spec)
	for i, want := range []struct{ command, args []string }{
		{[]string{"/bin/sh", "-c"}, []string{"echo $(X)"}},
		{nil, []string{"-c", "echo hi"}},
		{[]string{"/hello"}, nil},
		{nil, nil},
	} {
		cfg, err := r.containerConfig(context.Background(), g, g.mains[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cfg.Command, want.command) || !reflect.DeepEqual(cfg.Args, want.args) {
			t.Errorf("%s: command %q args %q, want %q and %q", spec.Containers[i].Name, cfg.Command, cfg.Args, want.command, want.args)
		}
	}
}

// prepared registers a group of spec with r and prepares its volumes.
func prepared(t *testing.T, r *Runtime, spec runtime.GroupSpec) *group {
	t.Helper()
	g := newGroup(spec)
	if err := r.register(g); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mounts.UnmountUnder(r.o.Dir); err != nil {
			t.Error(err)
		}
	})
	if _, err := r.prepareVolumes(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	return g
}

// A secret volume is a tmpfs of its own (as root), gone with the group.
func TestSecretVolumeOnTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	r := offline(t)
	g := prepared(t, r, runtime.GroupSpec{ID: "g1", Name: "g", Volumes: []runtime.Volume{
		{Name: "creds", Secret: map[string][]byte{"token": []byte("x")}}, {Name: "cache", EmptyDir: true}}})
	for name, want := range map[string]bool{"creds": true, "cache": false} {
		var st unix.Statfs_t
		if err := unix.Statfs(filepath.Join(r.volumeRoot("g1"), name), &st); err != nil {
			t.Fatal(err)
		}
		if got := st.Type == unix.TMPFS_MAGIC; got != want {
			t.Errorf("volume %s on tmpfs: %v, want %v", name, got, want)
		}
	}
	if err := r.removeGroupFiles(g.spec); err != nil {
		t.Fatal(err)
	}
	if points, err := mounts.PointsUnder(r.o.Dir); err != nil || len(points) > 0 {
		t.Errorf("mounts left: %v, %v", points, err)
	}
}

// UpdateVolumes changes a running group's secret files in place and its
// saved spec; a stopped group's spec only.
func TestUpdateVolumesFiles(t *testing.T) {
	r := offline(t)
	ctx := context.Background()
	spec := runtime.GroupSpec{ID: "g1", Name: "g", Volumes: []runtime.Volume{
		{Name: "creds", Secret: map[string][]byte{"token": []byte("one")}},
		{Name: "other", Secret: map[string][]byte{"x": []byte("x")}},
		{Name: "cache", EmptyDir: true}}}
	g := prepared(t, r, spec)
	dir := filepath.Join(r.volumeRoot("g1"), "creds")
	otherData, _ := os.Readlink(filepath.Join(r.volumeRoot("g1"), "other", dataLink))

	update := []runtime.Volume{{Name: "creds", Secret: map[string][]byte{"token": []byte("two"), "new": []byte("3")}}}
	if err := r.UpdateVolumes(ctx, "g1", update); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, dir, "new", "token"); got != "new=3 token=two" {
		t.Errorf("files %s", got)
	}
	if got, _ := os.Readlink(filepath.Join(r.volumeRoot("g1"), "other", dataLink)); got != otherData {
		t.Error("a volume not named was rewritten")
	}
	saved, err := r.readSpec("g1")
	if err != nil || string(saved.Volumes[0].Secret["token"]) != "two" || string(saved.Volumes[1].Secret["x"]) != "x" {
		t.Errorf("saved spec %+v, %v", saved.Volumes, err)
	}
	if string(r.specOf(g).Volumes[0].Secret["new"]) != "3" {
		t.Error("the group's spec lacks the update")
	}

	var rerr *runtime.Error
	if err := r.UpdateVolumes(ctx, "g1", []runtime.Volume{{Name: "cache", Secret: map[string][]byte{}}}); !errors.As(err, &rerr) {
		t.Errorf("an update of an emptyDir volume: %v", err)
	}
	if err := r.UpdateVolumes(ctx, "g1", []runtime.Volume{{Name: "creds", Secret: map[string][]byte{"..data": nil}}}); !errors.As(err, &rerr) {
		t.Errorf("a reserved file name: %v", err)
	}
	if _, ok := r.specOf(g).Volumes[0].Secret["..data"]; ok {
		t.Error("a refused update reached the spec")
	}
	if err := r.UpdateVolumes(ctx, "nope", update); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("an unknown group: %v", err)
	}

	g.stopped = true
	if err := r.UpdateVolumes(ctx, "g1", []runtime.Volume{{Name: "creds", Secret: map[string][]byte{"token": []byte("four")}}}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, dir, "token"); got != "token=two" {
		t.Errorf("a stopped group's files changed: %s", got)
	}
	if string(r.specOf(g).Volumes[0].Secret["token"]) != "four" {
		t.Error("a stopped group's spec lacks the update")
	}
}

// Secret volumes and read-only shares are mounted read-only whatever the
// container's mount says; other volumes as the mount says.
func TestVolumeMountsReadOnly(t *testing.T) {
	spec := runtime.GroupSpec{Volumes: []runtime.Volume{
		{Name: "creds", Secret: map[string][]byte{}},
		{Name: "share", AzureFile: &runtime.AzureFileVolume{ShareName: "s", StorageAccountName: "a", ReadOnly: true}},
		{Name: "rw", AzureFile: &runtime.AzureFileVolume{ShareName: "s", StorageAccountName: "a"}},
		{Name: "cache", EmptyDir: true}}}
	c := runtime.ContainerSpec{Name: "c", VolumeMounts: []runtime.VolumeMount{
		{Name: "creds", MountPath: "/creds"}, {Name: "share", MountPath: "/share"},
		{Name: "rw", MountPath: "/rw"}, {Name: "cache", MountPath: "/cache"}, {Name: "cache", MountPath: "/ro", ReadOnly: true}}}
	mounts := map[string]string{"creds": "/v/creds", "share": "/v/share", "rw": "/v/rw", "cache": "/v/cache"}
	ms, err := volumeMounts(spec, c, mounts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range ms {
		got[m.ContainerPath] = m.Readonly
	}
	want := map[string]bool{"/creds": true, "/share": true, "/rw": false, "/cache": false, "/ro": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read-only mounts %v, want %v", got, want)
	}
}

// The saved spec is sealed: none of its secrets is on disk in the clear. A
// spec an earlier version saved unsealed is read, and sealed on the next
// save.
func TestSpecSealed(t *testing.T) {
	r := offline(t)
	spec := runtime.GroupSpec{ID: "g1", Name: "g",
		RegistryCredentials: []runtime.RegistryCredential{{Server: "r.example", Username: "u", Password: "registry-password"}},
		Volumes:             []runtime.Volume{{Name: "creds", Secret: map[string][]byte{"token": []byte("secret-file")}}},
		Containers: []runtime.ContainerSpec{{Name: "c",
			Env: []runtime.EnvVar{{Name: "TOKEN", Value: "secure-value", Secure: true}}}}}
	if err := r.saveSpec(spec); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(r.groupDir("g1"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		for _, secret := range []string{"registry-password", "secret-file", "secure-value", "c2VjcmV0LWZpbGU="} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s holds %q in the clear", path, secret)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.readSpec("g1")
	if err != nil || !reflect.DeepEqual(got, spec) {
		t.Errorf("read back %+v, %v", got, err)
	}

	// Another group's sealed spec does not open as this one's.
	if err := os.MkdirAll(r.groupDir("g2"), 0o700); err != nil {
		t.Fatal(err)
	}
	sealed, _ := os.ReadFile(r.specPath("g1"))
	if err := os.WriteFile(r.specPath("g2"), sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.readSpec("g2"); err == nil {
		t.Error("g1's sealed spec opened as g2's")
	}

	// An unsealed spec of an earlier version.
	legacy := runtime.GroupSpec{ID: "g3", Name: "old"}
	data, _ := json.Marshal(legacy)
	if err := os.MkdirAll(r.groupDir("g3"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.plainSpecPath("g3"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := r.readSpec("g3"); err != nil || got.Name != "old" {
		t.Errorf("the unsealed spec: %+v, %v", got, err)
	}
	if err := r.saveSpec(legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.plainSpecPath("g3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unsealed spec is still there: %v", err)
	}
	if _, err := r.readSpec("nope"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a group without a spec: %v", err)
	}
}

func TestReadNetDev(t *testing.T) {
	const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0
  eth0:   15230     104    3    0    0     0          0         0     9876      77    4    0    0     0       0          0
`
	n, err := readNetDev(strings.NewReader(dev), "eth0")
	if err != nil || n == nil || *n != (runtime.NetworkStats{Interface: "eth0", RxBytes: 15230, RxErrors: 3, TxBytes: 9876, TxErrors: 4}) {
		t.Errorf("eth0: %+v, %v", n, err)
	}
	if n, err := readNetDev(strings.NewReader(dev), "eth1"); n != nil || err != nil {
		t.Errorf("a missing interface: %+v, %v", n, err)
	}
	if _, err := readNetDev(strings.NewReader("eth0: 1 2 x\n"), "eth0"); err == nil {
		t.Errorf("a short line: no error")
	}
}

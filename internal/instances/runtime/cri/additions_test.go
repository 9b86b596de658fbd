package cri

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// hiddenDirs lists the data directories of a secret volume on the host.
func hiddenDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "..") {
			out = append(out, e.Name())
		}
	}
	return out
}

// A group's hostname, /etc/hosts (FQDN and host aliases) and variables
// filled with its IP, in init and main containers; and a secret volume
// refreshed while a process in the container keeps reading it, without a
// restart, the new files kept across a new runtime and a restart.
func TestGroupHostsEnvAndSecretRefresh(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	podIP := []runtime.EnvVar{{Name: "POD_IP", FromField: runtime.FieldPodIP}}
	work := runtime.VolumeMount{Name: "work", MountPath: "/work"}
	spec := runtime.GroupSpec{ID: "g-hosts", Name: "hosts", RestartPolicy: runtime.RestartAlways,
		Hostname: "db-0", FQDN: "db-0.db.default.svc.cluster.local",
		HostAliases: []runtime.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar"}}},
		Volumes: []runtime.Volume{{Name: "work", EmptyDir: true},
			{Name: "creds", Secret: map[string][]byte{"token": []byte("one"), "old": []byte("x")}}},
		InitContainers: []runtime.ContainerSpec{{Name: "init", Image: w.shell, Env: podIP, VolumeMounts: []runtime.VolumeMount{work},
			Command: []string{"/bin/sh", "-c", `echo "$POD_IP" > /work/init-ip && cat /etc/hosts > /work/init-hosts`}}},
		Containers: []runtime.ContainerSpec{{Name: "app", Image: w.shell, Env: podIP,
			// Reads the secret over and over, as an application watching it would.
			Command:      []string{"/bin/sh", "-c", "while true; do cat /creds/token > /work/seen.tmp && mv /work/seen.tmp /work/seen; sleep 0.1; done"},
			VolumeMounts: []runtime.VolumeMount{work, {Name: "creds", MountPath: "/creds", ReadOnly: true}}}},
	}
	if err := r.Run(ctx, spec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { _ = r.Remove(context.Background(), spec.ID, 0) })
	// The container starts once the init container has succeeded.
	waitFor(t, "app to run after its init container", func() (bool, string) {
		c := state(t, r, spec.ID, "app")
		return c.Current.State == runtime.StateRunning, fmt.Sprint(c.Current)
	})
	st, _ := r.Status(ctx, spec.ID)
	ip := st.IP
	if !strings.HasPrefix(ip, "10.247.0.") {
		t.Fatalf("group IP %q", ip)
	}
	wantHosts := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n" +
		ip + "\tdb-0.db.default.svc.cluster.local\tdb-0\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar\n"
	for _, check := range []struct{ what, want string }{
		{"hostname", "db-0\n"},
		{"cat /etc/hosts", wantHosts},
		{"cat /work/init-hosts", wantHosts},
		{`echo "$POD_IP"`, ip + "\n"},
		{"cat /work/init-ip", ip + "\n"},
	} {
		if out, code := execOut(t, r, spec.ID, "app", "sh", "-c", check.what); code != 0 || out != check.want {
			t.Errorf("%s: %q (exit %d), want %q", check.what, out, code, check.want)
		}
	}

	waitFor(t, "app to read the first token", func() (bool, string) {
		out, _ := execOut(t, r, spec.ID, "app", "cat", "/work/seen")
		return out == "one", out
	})
	before := state(t, r, spec.ID, "app")
	dir := filepath.Join(r.volumeRoot(spec.ID), "creds")
	first := hiddenDirs(t, dir)
	update := []runtime.Volume{{Name: "creds", Secret: map[string][]byte{"token": []byte("two"), "new": []byte("3")}}}
	if err := r.UpdateVolumes(ctx, spec.ID, update); err != nil {
		t.Fatalf("UpdateVolumes: %v", err)
	}
	waitFor(t, "app to read the refreshed token", func() (bool, string) {
		out, _ := execOut(t, r, spec.ID, "app", "cat", "/work/seen")
		return out == "two", out
	})
	if out, _ := execOut(t, r, spec.ID, "app", "sh", "-c", "ls /creds; cat /creds/new"); out != "new\ntoken\n3" {
		t.Errorf("the refreshed volume in the container: %q", out)
	}
	after := state(t, r, spec.ID, "app")
	if after.RestartCount != before.RestartCount || !after.Current.StartTime.Equal(before.Current.StartTime) ||
		after.Current.State != runtime.StateRunning {
		t.Errorf("app restarted: %+v, before %+v", after, before)
	}
	if now := hiddenDirs(t, dir); len(first) != 1 || len(now) != 1 || now[0] == first[0] {
		t.Errorf("data directories %v, then %v: want one, replaced", first, now)
	}

	// A new runtime finds the refreshed spec; a restart keeps the files.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2 := w.runtime(t)
	t.Cleanup(func() { _ = r2.Remove(context.Background(), spec.ID, 0) })
	if got := string(r2.specOf(r2.groups[spec.ID]).Volumes[1].Secret["token"]); got != "two" {
		t.Errorf("the re-attached group's spec has token %q", got)
	}
	if err := r2.Restart(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "app restarted in place", func() (bool, string) {
		c := state(t, r2, spec.ID, "app")
		return c.RestartCount == 1 && c.Current.State == runtime.StateRunning, fmt.Sprint(c)
	})
	if out, _ := execOut(t, r2, spec.ID, "app", "sh", "-c", `cat /creds/token; echo; echo "$POD_IP"; cat /etc/hosts`); out != "two\n"+ip+"\n"+wantHosts {
		t.Errorf("after a restart: %q", out)
	}
	if err := r2.Remove(ctx, spec.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r2.groupDir(spec.ID)); !os.IsNotExist(err) {
		t.Errorf("the group's directory is left: %v", err)
	}
}

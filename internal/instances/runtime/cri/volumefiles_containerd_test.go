package cri

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/mounts"
)

// On containerd a non-root container sees what a kubelet gives it: secret
// files with their modes (a 0755 script runs) owned by the fsGroup, which
// is among its groups; emptyDir volumes of mode 0777 (02777 with the
// fsGroup), one of medium Memory on a tmpfs of its size limit, each owned
// by the fsGroup; a subPath
// of a secret key as a file and a subPath of an emptyDir created as a
// directory. Removing the group unmounts everything it had.
func TestVolumeFilesOnContainerd(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	user, fsGroup := int64(1000), int64(2000)
	script := strings.Join([]string{
		"/conf/run.sh",
		"stat -c 'key %a %g' /conf/..data/key",
		"stat -c 'disk %a %g' /disk",
		"stat -c 'mem %a' /mem",
		"grep ' /mem ' /proc/mounts | cut -d' ' -f1,3",
		"df -k /mem | tail -1 | awk '{print \"size \" $2}'",
		"id -G",
		"cat /etc/app/key.txt; echo",
		"touch /logs/out && ls /disk/logs/app",
		"touch /disk/mine && stat -c 'mine %g' /disk/mine",
	}, "; ")
	spec := runtime.GroupSpec{ID: "g-files", Name: "files", RestartPolicy: runtime.RestartNever, FSGroup: &fsGroup,
		Volumes: []runtime.Volume{
			{Name: "conf", Secret: map[string][]byte{"run.sh": []byte("#!/bin/sh\necho ran\n"), "key": []byte("k3y")},
				FileModes: map[string]uint32{"run.sh": 0o755, "key": 0o400}},
			{Name: "disk", EmptyDir: true},
			{Name: "mem", EmptyDir: true, Medium: runtime.MediumMemory, SizeLimit: 8 << 20},
		},
		Containers: []runtime.ContainerSpec{{Name: "check", Image: w.shell, MemoryInGB: 0.5,
			Command: []string{"/bin/sh", "-c", script}, SecurityContext: &runtime.SecurityContext{RunAsUser: &user},
			VolumeMounts: []runtime.VolumeMount{{Name: "conf", MountPath: "/conf"}, {Name: "disk", MountPath: "/disk"},
				{Name: "mem", MountPath: "/mem"}, {Name: "conf", MountPath: "/etc/app/key.txt", SubPath: "key"},
				{Name: "disk", MountPath: "/logs", SubPath: "logs/app"}}}}}
	if err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the check to end", func() (bool, string) {
		c := state(t, r, "g-files", "check")
		return c.Current.State == runtime.StateTerminated, fmt.Sprintf("%+v", c.Current)
	})
	var out bytes.Buffer
	if err := r.Logs(ctx, "g-files", "check", runtime.LogOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	want := "ran\nkey 440 2000\ndisk 2777 2000\nmem 2777\ntmpfs tmpfs\nsize 8192\n0 2000\nk3y\nout\nmine 2000\n"
	if got := out.String(); got != want {
		t.Errorf("the container saw\n%s\nwant\n%s", got, want)
	}
	if c := state(t, r, "g-files", "check"); c.Current.ExitCode != 0 {
		t.Errorf("exit code %d", c.Current.ExitCode)
	}
	if err := r.Remove(ctx, "g-files", 0); err != nil {
		t.Fatal(err)
	}
	if points, err := mounts.PointsUnder(r.groupDir("g-files")); err != nil || len(points) != 0 {
		t.Errorf("mounts left after the removal: %q, %v", points, err)
	}
}

// A container that links "/" into an emptyDir cannot have a later
// container mount the link as a subPath: that container waits with
// CreateContainerConfigError, as on a kubelet, instead of showing the
// host's root.
func TestSubPathEscapeOnContainerd(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	spec := runtime.GroupSpec{ID: "g-escape", Name: "escape", RestartPolicy: runtime.RestartNever,
		Volumes: []runtime.Volume{{Name: "work", EmptyDir: true}},
		InitContainers: []runtime.ContainerSpec{{Name: "plant", Image: w.shell,
			Command:      []string{"/bin/sh", "-c", "ln -s / /work/escape"},
			VolumeMounts: []runtime.VolumeMount{{Name: "work", MountPath: "/work"}}}},
		Containers: []runtime.ContainerSpec{{Name: "main", Image: w.shell, Command: []string{"/bin/ls", "/host"},
			VolumeMounts: []runtime.VolumeMount{{Name: "work", MountPath: "/host", SubPath: "escape"}}}}}
	if err := r.Run(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the container to wait for its subPath", func() (bool, string) {
		c := state(t, r, "g-escape", "main")
		return c.Current.DetailStatus == "CreateContainerConfigError" &&
			strings.Contains(c.Current.Message, "resolves outside the volume"), fmt.Sprint(c.Current)
	})
	if c := state(t, r, "g-escape", "main"); c.Current.State != runtime.StateWaiting {
		t.Errorf("the container ran: %+v", c.Current)
	}
	if err := r.Remove(ctx, "g-escape", 0); err != nil {
		t.Fatal(err)
	}
}

package service

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/validate"
	"github.com/vnode-io/vnode/internal/wire"
)

// volumeFilesBody is secretBody with an emptyDir volume on memory that the
// side container mounts, its file a subPath of config.
func volumeFilesBody() (*aci.ContainerGroup, wire.GroupExtensions) {
	b := secretBody()
	b.Properties.Volumes = append(b.Properties.Volumes, &aci.Volume{Name: to.Ptr("cache"), EmptyDir: map[string]any{}})
	b.Properties.Containers[1].Properties.VolumeMounts = []*aci.VolumeMount{
		{Name: to.Ptr("cache"), MountPath: to.Ptr("/cache")},
		{Name: to.Ptr("config"), MountPath: to.Ptr("/etc/app.conf"), ReadOnly: to.Ptr(true)},
	}
	fsGroup := int64(2000)
	return b, wire.GroupExtensions{
		FileModes:           map[string]map[string]int32{"config": {"app.conf": 0o755}},
		EmptyDirs:           map[string]wire.EmptyDir{"cache": {Medium: wire.MediumMemory, SizeLimit: 1 << 20}},
		FSGroup:             &fsGroup,
		FSGroupChangePolicy: wire.FSGroupChangeOnRootMismatch,
		SubPaths:            map[string]map[string]string{"side": {"/etc/app.conf": "app.conf"}},
	}
}

// The volume-files and subpath-mounts additions reach the runtime's spec.
func TestVolumeFilesReachTheRuntime(t *testing.T) {
	b, ext := volumeFilesBody()
	spec, err := runtimeSpec("uid", "g", "id", b, splitSecrets(b), ext)
	if err != nil {
		t.Fatal(err)
	}
	if v := spec.Volumes[0]; !reflect.DeepEqual(v.FileModes, map[string]uint32{"app.conf": 0o755}) ||
		v.FileMode("app.conf") != 0o755 || v.FileMode("empty") != runtime.DefaultFileMode {
		t.Errorf("secret volume %+v", v)
	}
	if v := spec.Volumes[2]; !v.EmptyDir || v.Medium != runtime.MediumMemory || v.SizeLimit != 1<<20 {
		t.Errorf("emptyDir volume %+v", v)
	}
	if spec.FSGroup == nil || *spec.FSGroup != 2000 || spec.FSGroupChangePolicy != runtime.FSGroupChangeOnRootMismatch {
		t.Errorf("fsGroup %v, policy %q", spec.FSGroup, spec.FSGroupChangePolicy)
	}
	want := []runtime.VolumeMount{{Name: "cache", MountPath: "/cache"},
		{Name: "config", MountPath: "/etc/app.conf", ReadOnly: true, SubPath: "app.conf"}}
	if got := spec.Containers[1].VolumeMounts; !reflect.DeepEqual(got, want) {
		t.Errorf("mounts %+v, want %+v", got, want)
	}
	if got := spec.Containers[0].VolumeMounts; got[0].SubPath != "" || got[1].SubPath != "" {
		t.Errorf("another container's mounts got a subPath: %+v", got)
	}
}

// A group with the additions runs, and GET gives them back as sent.
func TestVolumeFilesPutAndGet(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "files"}
	b, ext := volumeFilesBody()
	if _, err := h.s.CreateOrUpdate(h.ctx, ref, b, ext); err != nil {
		t.Fatal(err)
	}
	h.waitSettled(ref)
	if a := h.s.Additions(ref); !a.GroupExtensions.Equal(ext) {
		t.Errorf("additions %+v, want %+v", a.GroupExtensions, ext)
	}
}

// Additions that do not fit the group or exceed the bounds are refused
// with the field that is wrong.
func TestVolumeFilesRefused(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "refused"}
	big, negative := int64(1<<31), int64(-1)
	for _, tc := range []struct {
		name   string
		tweak  func(*wire.GroupExtensions)
		code   string
		target string
	}{
		{"setuid mode", func(e *wire.GroupExtensions) { e.FileModes["config"]["app.conf"] = 0o4755 },
			validate.CodeInvalidVolumeFiles, "properties.volumes[0].fileModes.app.conf"},
		{"negative mode", func(e *wire.GroupExtensions) { e.FileModes["config"]["app.conf"] = -1 },
			validate.CodeInvalidVolumeFiles, "properties.volumes[0].fileModes.app.conf"},
		{"mode of no file", func(e *wire.GroupExtensions) { e.FileModes["config"]["nope"] = 0o600 },
			validate.CodeInvalidVolumeFiles, "properties.volumes[0].fileModes.nope"},
		{"modes of an emptyDir", func(e *wire.GroupExtensions) { e.FileModes["cache"] = map[string]int32{"a": 0o600} },
			validate.CodeInvalidVolumeFiles, "properties.volumes"},
		{"unknown medium", func(e *wire.GroupExtensions) { e.EmptyDirs["cache"] = wire.EmptyDir{Medium: "HugePages"} },
			validate.CodeInvalidVolumeFiles, "properties.volumes[2].emptyDir.medium"},
		{"negative size", func(e *wire.GroupExtensions) { e.EmptyDirs["cache"] = wire.EmptyDir{SizeLimit: -1} },
			validate.CodeInvalidVolumeFiles, "properties.volumes[2].emptyDir.sizeLimit"},
		{"medium of a secret", func(e *wire.GroupExtensions) { e.EmptyDirs["config"] = wire.EmptyDir{Medium: wire.MediumMemory} },
			validate.CodeInvalidVolumeFiles, "properties.volumes"},
		{"fsGroup too large", func(e *wire.GroupExtensions) { e.FSGroup = &big },
			validate.CodeInvalidFSGroup, "properties.securityContext.fsGroup"},
		{"negative fsGroup", func(e *wire.GroupExtensions) { e.FSGroup = &negative },
			validate.CodeInvalidFSGroup, "properties.securityContext.fsGroup"},
		{"unknown policy", func(e *wire.GroupExtensions) { e.FSGroupChangePolicy = "Never" },
			validate.CodeInvalidFSGroup, "properties.securityContext.fsGroupChangePolicy"},
		{"absolute subPath", func(e *wire.GroupExtensions) { e.SubPaths["side"]["/etc/app.conf"] = "/etc" },
			validate.CodeInvalidSubPath, "properties.containers"},
		{"subPath with ..", func(e *wire.GroupExtensions) { e.SubPaths["side"]["/etc/app.conf"] = "a/../../b" },
			validate.CodeInvalidSubPath, "properties.containers"},
		{"unclean subPath", func(e *wire.GroupExtensions) { e.SubPaths["side"]["/etc/app.conf"] = "a//b" },
			validate.CodeInvalidSubPath, "properties.containers"},
		{"subPath of no mount", func(e *wire.GroupExtensions) { e.SubPaths["side"]["/elsewhere"] = "a" },
			validate.CodeInvalidSubPath, "properties.containers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ext := volumeFilesBody()
			tc.tweak(&ext)
			_, err := h.s.CreateOrUpdate(h.ctx, ref, b, ext)
			wantARM(t, err, http.StatusBadRequest, tc.code, tc.target)
		})
	}
}

// A refresh gives the new files their modes, in the runtime and in the
// stored additions, which a restart of the service reads back; a refresh
// without modes makes the files 0644 again; a bad mode is refused.
func TestRefreshVolumesKeepsModes(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "modes"}
	b, ext := volumeFilesBody()
	if _, err := h.s.CreateOrUpdate(h.ctx, ref, b, ext); err != nil {
		t.Fatal(err)
	}
	h.waitSettled(ref)
	uid := h.uid(ref)
	modes := map[string]map[string]int32{"config": {"added": 0o400}}
	if _, err := h.s.RefreshVolumes(h.ctx, ref, refreshedConfig(), modes); err != nil {
		t.Fatal(err)
	}
	if got := h.runtimeVolume(uid, "config").FileModes; !reflect.DeepEqual(got, map[string]uint32{"added": 0o400}) {
		t.Errorf("runtime modes %v", got)
	}
	h.s.Close()
	h.s = h.open()
	if got := h.s.Additions(ref).FileModes; !reflect.DeepEqual(got, modes) {
		t.Errorf("stored modes after a restart %v, want %v", got, modes)
	}
	if _, err := h.s.RefreshVolumes(h.ctx, ref, refreshedConfig(), nil); err != nil {
		t.Fatal(err)
	}
	if got := h.runtimeVolume(uid, "config"); got.FileModes != nil || got.FileMode("added") != runtime.DefaultFileMode {
		t.Errorf("runtime modes after a refresh without any %v", got.FileModes)
	}
	_, err := h.s.RefreshVolumes(h.ctx, ref, refreshedConfig(), map[string]map[string]int32{"config": {"added": 0o1000}})
	wantARM(t, err, http.StatusBadRequest, validate.CodeInvalidVolumeFiles, "volumes[0].fileModes.added")
	_, err = h.s.RefreshVolumes(h.ctx, ref, refreshedConfig(), map[string]map[string]int32{"other": {"added": 0o600}})
	wantARM(t, err, http.StatusBadRequest, validate.CodeInvalidVolumeFiles, "volumes")
}

// runtimeVolume returns the runtime's volume of a group.
func (h *harness) runtimeVolume(uid, volume string) runtime.Volume {
	h.t.Helper()
	vols, err := h.rt.Volumes(uid)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, v := range vols {
		if v.Name == volume {
			return v
		}
	}
	h.t.Fatalf("the runtime has no volume %s", volume)
	return runtime.Volume{}
}

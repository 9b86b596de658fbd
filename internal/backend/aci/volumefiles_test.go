package aci

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// volumeFilesWorkload has a ConfigMap volume with a script (0755), a
// nested key (0400) and a plain file, an emptyDir on memory of 64Mi, a
// plain emptyDir and an fsGroup; app mounts the script by subPath, a
// directory of the emptyDir by subPathExpr and the nested directory by
// subPath.
func volumeFilesWorkload() *backend.Workload {
	pod := testPod(corev1.Container{Name: "app", Image: "img", VolumeMounts: []corev1.VolumeMount{
		{Name: "cfg", MountPath: "/bin/run.sh", SubPath: "run.sh"},
		{Name: "cfg", MountPath: "/keys", SubPath: "sub"},
		{Name: "cfg", MountPath: "/key", SubPath: "sub/key"},
		{Name: "cache", MountPath: "/logs", SubPathExpr: "logs/$(POD_NAME)"},
		{Name: "scratch", MountPath: "/scratch"},
	}})
	size := resource.MustParse("64Mi")
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
		{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: &size}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	policy := corev1.FSGroupChangeOnRootMismatch
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr(int64(2000)), FSGroupChangePolicy: &policy}
	return &backend.Workload{Pod: pod,
		Env: map[string][]backend.EnvVar{"app": {{Name: "POD_NAME", Value: "web"}}},
		Volumes: map[string][]backend.File{"cfg": {{Path: "run.sh", Data: []byte("#!/bin/sh"), Mode: 0o755},
			{Path: "sub/key", Data: []byte("k"), Mode: 0o400}, {Path: "plain", Data: []byte("p"), Mode: 0o644}}}}
}

// With the extensions the service learns the files' modes, the emptyDir's
// medium and size, the fsGroup and the subPaths, mapped onto the ACI
// volumes the pod's volumes became.
func TestConvertVolumeFiles(t *testing.T) {
	o := testOptions()
	o.volumeFiles, o.subPath = true, true
	s, err := convert(volumeFilesWorkload(), o)
	if err != nil {
		t.Fatal(err)
	}
	sub := aciVolumeName("cfg", "sub")
	wantModes := map[string]map[string]int32{aciVolumeName("cfg", ""): {"run.sh": 0o755}, sub: {"key": 0o400}}
	if !reflect.DeepEqual(s.ext.FileModes, wantModes) {
		t.Errorf("modes %v, want %v", s.ext.FileModes, wantModes)
	}
	if want := map[string]wire.EmptyDir{"cache": {Medium: wire.MediumMemory, SizeLimit: 64 << 20}}; !reflect.DeepEqual(s.ext.EmptyDirs, want) {
		t.Errorf("emptyDirs %v", s.ext.EmptyDirs)
	}
	if s.ext.FSGroup == nil || *s.ext.FSGroup != 2000 || s.ext.FSGroupChangePolicy != wire.FSGroupChangeOnRootMismatch {
		t.Errorf("fsGroup %v, %q", s.ext.FSGroup, s.ext.FSGroupChangePolicy)
	}
	wantSub := map[string]map[string]string{"app": {"/bin/run.sh": "run.sh", "/key": "key", "/logs": "logs/web"}}
	if !reflect.DeepEqual(s.ext.SubPaths, wantSub) {
		t.Errorf("subPaths %v, want %v", s.ext.SubPaths, wantSub)
	}
	var mounts []string
	for _, m := range s.group.Properties.Containers[0].Properties.VolumeMounts {
		mounts = append(mounts, *m.Name+" at "+*m.MountPath)
	}
	wantMounts := []string{aciVolumeName("cfg", "") + " at /bin/run.sh", sub + " at /keys", sub + " at /key",
		"cache at /logs", "scratch at /scratch"}
	if !reflect.DeepEqual(mounts, wantMounts) {
		t.Errorf("mounts %q, want %q", mounts, wantMounts)
	}
	if len(s.warnings) != 0 {
		t.Errorf("warnings %q", s.warnings)
	}
}

// With the nested-files extension a pod volume stays one secret volume
// whose file names are the files' paths: no nested mounts (which runc could
// not make inside the read-only volume), subPaths relative to the volume.
func TestConvertNestedFiles(t *testing.T) {
	o := testOptions()
	o.volumeFiles, o.subPath, o.nestedFiles = true, true, true
	s, err := convert(volumeFilesWorkload(), o)
	if err != nil {
		t.Fatal(err)
	}
	cfg := aciVolumeName("cfg", "")
	var secrets []string
	for _, v := range s.group.Properties.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(v.Secret)) {
			secrets = append(secrets, *v.Name+":"+k)
		}
	}
	if want := []string{cfg + ":plain", cfg + ":run.sh", cfg + ":sub/key"}; !reflect.DeepEqual(secrets, want) {
		t.Errorf("secret files %q, want %q", secrets, want)
	}
	if want := map[string]map[string]int32{cfg: {"run.sh": 0o755, "sub/key": 0o400}}; !reflect.DeepEqual(s.ext.FileModes, want) {
		t.Errorf("modes %v, want %v", s.ext.FileModes, want)
	}
	wantSub := map[string]map[string]string{"app": {"/bin/run.sh": "run.sh", "/keys": "sub", "/key": "sub/key", "/logs": "logs/web"}}
	if !reflect.DeepEqual(s.ext.SubPaths, wantSub) {
		t.Errorf("subPaths %v, want %v", s.ext.SubPaths, wantSub)
	}
	var mounts []string
	for _, m := range s.group.Properties.Containers[0].Properties.VolumeMounts {
		mounts = append(mounts, *m.Name+" at "+*m.MountPath)
	}
	wantMounts := []string{cfg + " at /bin/run.sh", cfg + " at /keys", cfg + " at /key", "cache at /logs", "scratch at /scratch"}
	if !reflect.DeepEqual(mounts, wantMounts) {
		t.Errorf("mounts %q, want %q", mounts, wantMounts)
	}
}

// subPathExpr follows the kubelet: a missing or empty variable, an
// absolute result and '..' are the pod's configuration errors.
func TestSubPathExprConfigErrors(t *testing.T) {
	o := testOptions()
	o.volumeFiles, o.subPath = true, true
	for _, tc := range []struct {
		expr, value, want string
	}{
		{"$(ANNOTATION)/$(POD_NAME)", "web", "missing value for ANNOTATION"},
		{"$(POD_NAME)", "", "missing value for POD_NAME"},
		{"$(POD_NAME)", "/tmp", "must not be an absolute path"},
		{"$(POD_NAME)", "..", "must not contain '..'"},
		{"a/$(POD_NAME)/b", "../..", "must not contain '..'"},
	} {
		w := volumeFilesWorkload()
		w.Env["app"] = []backend.EnvVar{{Name: "POD_NAME", Value: tc.value}}
		w.Pod.Spec.Containers[0].VolumeMounts[3].SubPathExpr = tc.expr
		_, err := convert(w, o)
		var ce *backend.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, tc.want) {
			t.Errorf("%q with POD_NAME=%q: %v, want a configuration error with %q", tc.expr, tc.value, err, tc.want)
		}
	}
}

// Against Azure a file that must be executable, or a subPath, fails the
// pod; other modes, medium, sizeLimit and fsGroup run with warnings.
func TestVolumeFilesOnAzure(t *testing.T) {
	w := volumeFilesWorkload()
	_, err := convert(w, testOptions())
	if err == nil || !strings.Contains(err.Error(), `file "run.sh" has mode 0755`) {
		t.Errorf("an executable file on Azure: %v", err)
	}
	w.Volumes["cfg"][0].Mode = 0o600
	_, err = convert(w, testOptions())
	if err == nil || !strings.Contains(err.Error(), "subPath") {
		t.Errorf("a subPath on Azure: %v", err)
	}
	w.Pod.Spec.Containers[0].VolumeMounts = w.Pod.Spec.Containers[0].VolumeMounts[4:]
	s, err := convert(w, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !s.ext.IsZero() {
		t.Errorf("additions sent to Azure: %+v", s.ext)
	}
	joined := strings.Join(s.warnings, "\n")
	for _, want := range []string{`mode 0600 of file "run.sh"`, `mode 0400 of file "key"`, `emptyDir volume "cache"`, "fsGroup 2000"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
}

// Mounts of a subPath map onto the parts of a volume's files.
func TestSubPathMounts(t *testing.T) {
	parts := []volumePart{{name: "root"}, {name: "a", dir: "a"}, {name: "ab", dir: "a/b"}}
	for _, tc := range []struct {
		sub  string
		want []subPathMount
	}{
		{"", []subPathMount{{parts[0], "/m", ""}, {parts[1], "/m/a", ""}, {parts[2], "/m/a/b", ""}}},
		{"a", []subPathMount{{parts[1], "/m", ""}, {parts[2], "/m/b", ""}}},
		{"a/b", []subPathMount{{parts[2], "/m", ""}}},
		{"a/b/c", []subPathMount{{parts[2], "/m", "c"}}},
		{"a/x", []subPathMount{{parts[1], "/m", "x"}}},
		{"file", []subPathMount{{parts[0], "/m", "file"}}},
		{"ab", []subPathMount{{parts[0], "/m", "ab"}}},
	} {
		if got := subPathMounts(parts, "/m", tc.sub); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("subPath %q: %+v, want %+v", tc.sub, got, tc.want)
		}
	}
}

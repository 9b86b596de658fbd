package aci_test

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The service takes what a pod's volumes ask of it: file modes, an
// emptyDir on memory, an fsGroup and a subPath; a refresh of the files
// keeps their new modes.
func TestVolumeFilesWithTheService(t *testing.T) {
	files := startService(t, nil)
	b, rec := newBackend(t, files)
	ctx := testContext(t)
	w := configWorkload("modes", "run.sh", "plain")
	w.Volumes["config"][0].Mode = 0o755
	fsGroup := int64(3000)
	w.Pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: &fsGroup}
	w.Pod.Spec.Volumes = append(w.Pod.Spec.Volumes, corev1.Volume{Name: "cache",
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}})
	w.Pod.Spec.Containers[0].VolumeMounts = append(w.Pod.Spec.Containers[0].VolumeMounts,
		corev1.VolumeMount{Name: "config", MountPath: "/bin/run.sh", SubPath: "run.sh"},
		corev1.VolumeMount{Name: "cache", MountPath: "/cache"})
	if err := b.Create(ctx, w); err != nil {
		t.Fatalf("create: %v", err)
	}
	rec.waitFor(t, w.Pod.UID, "Running", running)
	_, ext := rawGroup(t, files, "default-modes")
	if want := map[string]map[string]int32{"config": {"run.sh": 0o755}}; !reflect.DeepEqual(ext.FileModes, want) {
		t.Errorf("stored modes %v, want %v", ext.FileModes, want)
	}
	if ext.FSGroup == nil || *ext.FSGroup != fsGroup || ext.EmptyDirs["cache"].Medium != "Memory" ||
		ext.SubPaths["main"]["/bin/run.sh"] != "run.sh" {
		t.Errorf("stored additions %+v", ext)
	}

	update := configWorkload("modes", "run.sh", "plain")
	update.Pod = w.Pod
	update.Volumes["config"][1].Mode = 0o600
	if err := b.UpdateVolumes(ctx, update); err != nil {
		t.Fatalf("update volumes: %v", err)
	}
	_, ext = rawGroup(t, files, "default-modes")
	if want := map[string]map[string]int32{"config": {"plain": 0o600}}; !reflect.DeepEqual(ext.FileModes, want) {
		t.Errorf("modes after the refresh %v, want %v", ext.FileModes, want)
	}
}

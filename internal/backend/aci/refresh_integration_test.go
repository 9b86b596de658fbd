package aci_test

import (
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// configWorkload is workload with a ConfigMap volume holding files.
func configWorkload(name string, files ...string) *backend.Workload {
	w := workload(name, "1")
	w.Pod.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}}
	w.Pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}}
	w.Volumes = map[string][]backend.File{}
	for _, f := range files {
		w.Volumes["config"] = append(w.Volumes["config"], backend.File{Path: f, Data: []byte("content of " + f), Mode: 0o644})
	}
	return w
}

// secretFileNames returns the file names the service lists for a group's
// secret volume (their contents are never returned).
func secretFileNames(t *testing.T, files wire.ClientFiles, group, volume string) []string {
	t.Helper()
	factory, err := files.ClientFactory(0)
	if err != nil {
		t.Fatal(err)
	}
	g, err := factory.NewContainerGroupsClient().Get(testContext(t), files.ResourceGroup, group, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Properties.Volumes {
		if *v.Name == volume {
			var names []string
			for n := range v.Secret {
				names = append(names, n)
			}
			slices.Sort(names)
			return names
		}
	}
	t.Fatalf("group %s has no volume %s", group, volume)
	return nil
}

// With vnode's refresh-volumes extension the files of a running group's
// secret volumes are replaced without a restart; without it (Azure) the
// backend says it cannot.
func TestUpdateVolumes(t *testing.T) {
	files := startService(t, nil)
	b, rec := newBackend(t, files)
	ctx := testContext(t)
	w := configWorkload("cfg", "a")
	if err := b.Create(ctx, w); err != nil {
		t.Fatalf("create: %v", err)
	}
	rec.waitFor(t, w.Pod.UID, "Running with an IP", running)

	update := configWorkload("cfg", "a", "b")
	if err := b.UpdateVolumes(ctx, update); err != nil {
		t.Fatalf("update volumes: %v", err)
	}
	if got := secretFileNames(t, files, "default-cfg", "config"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("files after the refresh = %v, want [a b]", got)
	}
	st := rec.waitFor(t, w.Pod.UID, "Running", running)
	if st.Containers[0].RestartCount != 0 {
		t.Errorf("the refresh restarted the container: %+v", st.Containers[0])
	}
	if err := b.UpdateVolumes(ctx, configWorkload("other", "a")); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("update of an unknown pod: %v, want ErrNotFound", err)
	}

	azure, _ := newBackend(t, announce(t, files, "list-instance-view"))
	if err := azure.Create(ctx, configWorkload("az", "a")); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := azure.UpdateVolumes(ctx, configWorkload("az", "a", "b")); !errors.Is(err, backend.ErrNotSupported) {
		t.Errorf("without the extension: %v, want ErrNotSupported", err)
	}
}

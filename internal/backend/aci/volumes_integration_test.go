package aci_test

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// A pod whose azureFile volume's Secret lacks a key is refused with a
// *backend.ConfigError, which the user can fix, rather than as a pod that
// can never run; once the Secret holds the account, the group runs.
func TestBackendAzureFileVolume(t *testing.T) {
	files := startService(t, nil)
	b, rec := newBackend(t, files)
	ctx := testContext(t)
	w := workload("share", "1")
	w.Pod.Spec.Volumes = []corev1.Volume{{Name: "files", VolumeSource: corev1.VolumeSource{
		AzureFile: &corev1.AzureFileVolumeSource{SecretName: "share", ShareName: "data"}}}}
	w.Pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "files", MountPath: "/data"}}
	w.VolumeSecrets = map[string]map[string][]byte{"files": {"azurestorageaccountname": []byte("acct")}}
	err := b.Create(ctx, w)
	var ce *backend.ConfigError
	if !errors.As(err, &ce) || errors.Is(err, backend.ErrUnsatisfiable) || errors.Is(err, backend.ErrRetryable) {
		t.Fatalf("err = %v, want a *backend.ConfigError only", err)
	}

	w.VolumeSecrets["files"]["azurestorageaccountkey"] = []byte("share-account-key")
	if err := b.Create(ctx, w); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, w.Pod.UID, "running", running)
}

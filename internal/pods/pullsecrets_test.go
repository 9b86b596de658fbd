package pods

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// Image pull secrets reach the backend as registry credentials; missing or
// malformed ones are skipped as the kubelet skips them. An azureFile
// volume's account comes from its secret, whose absence is the user's to fix.
func TestWorkloadCredentials(t *testing.T) {
	src := source()
	src.secrets["regcred"] = &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{
		corev1.DockerConfigJsonKey: []byte(`{"auths":{"127.0.0.1:5001":{"username":"vnode","password":"pw"}}}`)}}
	src.secrets["opaque"] = &corev1.Secret{Type: corev1.SecretTypeOpaque}
	src.secrets["share"] = &corev1.Secret{Data: map[string][]byte{
		"azurestorageaccountname": []byte("acct"), "azurestorageaccountkey": []byte("key")}}
	r := &resolver{objects: src}
	pod := envPod(corev1.Container{Name: "app"})
	pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "missing"}, {Name: "opaque"}, {Name: "regcred"}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "files", VolumeSource: corev1.VolumeSource{
		AzureFile: &corev1.AzureFileVolumeSource{SecretName: "share", ShareName: "data"}}}}
	w, err := r.workload(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	want := []backend.RegistryCredential{{Server: "127.0.0.1:5001", Username: "vnode", Password: "pw"}}
	if len(w.RegistryCredentials) != 1 || w.RegistryCredentials[0] != want[0] {
		t.Errorf("registry credentials %+v, want %+v", w.RegistryCredentials, want)
	}
	if got := w.VolumeSecrets["files"]; string(got["azurestorageaccountname"]) != "acct" || string(got["azurestorageaccountkey"]) != "key" {
		t.Errorf("azureFile volume's secret %v", got)
	}

	pod.Spec.Volumes[0].AzureFile.SecretName = "nope"
	_, err = r.workload(context.Background(), pod)
	var ce *configError
	if !errors.As(err, &ce) {
		t.Errorf("azureFile volume with a missing secret: %v, want a configuration error", err)
	}
}

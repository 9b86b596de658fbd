package pods

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
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

// An azureFile volume's Secret is watched as every reference is: the pod
// waits with CreateContainerConfigError while the Secret is missing, and
// also while it lacks a key the backend needs (a *backend.ConfigError from
// Create, not a backend failure), and runs once the Secret is fixed, the
// backend given its data.
func TestVolumeSecretIsAConfigurationError(t *testing.T) {
	b, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got map[string][]byte
	b.SetCreateHook(func(w *backend.Workload) error {
		mu.Lock()
		defer mu.Unlock()
		got = w.VolumeSecrets["files"]
		if len(got["azurestorageaccountkey"]) == 0 {
			return fmt.Errorf("convert: %w", &backend.ConfigError{Message: "secret ns/share lacks azurestorageaccountkey"})
		}
		return nil
	})
	pod := newPod("share")
	pod.Spec.Volumes = []corev1.Volume{{Name: "files", VolumeSource: corev1.VolumeSource{
		AzureFile: &corev1.AzureFileVolumeSource{SecretName: "share", ShareName: "data"}}}}
	f := newFixture(t, b, pod)
	f.run()
	waitConfigError := func(msg string) {
		t.Helper()
		p := f.waitPod("share", "CreateContainerConfigError", func(p *corev1.Pod) bool {
			w := p.Status.ContainerStatuses
			return len(w) == 1 && w[0].State.Waiting != nil && w[0].State.Waiting.Reason == "CreateContainerConfigError" &&
				w[0].State.Waiting.Message == msg
		})
		if p.Status.Phase != corev1.PodPending || p.Status.Reason != "" {
			t.Errorf("phase %s, reason %q; want Pending without a reason", p.Status.Phase, p.Status.Reason)
		}
		f.waitEvent("Error: " + msg)
	}
	waitConfigError(`secret "share" of azureFile volume "files" not found`)

	secrets := f.client.CoreV1().Secrets("ns")
	share := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "share", Namespace: "ns"},
		Data: map[string][]byte{"azurestorageaccountname": []byte("acct")}}
	if _, err := secrets.Create(context.Background(), share, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitConfigError("secret ns/share lacks azurestorageaccountkey")

	share.Data["azurestorageaccountkey"] = []byte("key")
	if _, err := secrets.Update(context.Background(), share, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitPod("share", "Running", running)
	mu.Lock()
	defer mu.Unlock()
	if string(got["azurestorageaccountname"]) != "acct" || string(got["azurestorageaccountkey"]) != "key" {
		t.Errorf("the backend was given %v", got)
	}
}

package aci

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// An azureFile volume's storage account comes from the data of its Secret,
// which the agent resolved; a Secret that lacks a key is the user's to fix.
func TestAzureFileVolume(t *testing.T) {
	pod := testPod(corev1.Container{Name: "main", Image: "img"})
	pod.Spec.Volumes = []corev1.Volume{{Name: "files", VolumeSource: corev1.VolumeSource{
		AzureFile: &corev1.AzureFileVolumeSource{SecretName: "share", ShareName: "data", ReadOnly: true}}}}
	w := &backend.Workload{Pod: pod, VolumeSecrets: map[string]map[string][]byte{"files": {
		"azurestorageaccountname": []byte("acct"), "azurestorageaccountkey": []byte("k")}}}
	set, err := convertVolumes(w, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.volumes) != 1 || set.volumes[0].AzureFile == nil {
		t.Fatalf("volumes %+v, want one azureFile", set.volumes)
	}
	if f := set.volumes[0].AzureFile; *f.ShareName != "data" || *f.StorageAccountName != "acct" ||
		*f.StorageAccountKey != "k" || !*f.ReadOnly {
		t.Errorf("azureFile %+v", f)
	}

	for name, data := range map[string]map[string][]byte{
		"no secret":   nil,
		"empty":       {},
		"no key":      {"azurestorageaccountname": []byte("acct")},
		"no account":  {"azurestorageaccountkey": []byte("k")},
		"empty value": {"azurestorageaccountname": []byte("acct"), "azurestorageaccountkey": {}},
	} {
		w.VolumeSecrets["files"] = data
		_, err := convertVolumes(w, false)
		var ce *backend.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v, want a *backend.ConfigError", name, err)
			continue
		}
		const want = `azureFile volume "files": secret default/share lacks azurestorageaccountname or azurestorageaccountkey`
		if ce.Message != want {
			t.Errorf("%s: message %q, want %q", name, ce.Message, want)
		}
	}
}

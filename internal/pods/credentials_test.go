package pods

import (
	"encoding/base64"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestRegistryCredentials(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("bob:pw:with:colons"))
	s := &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(
		`{"auths":{"https://index.docker.io/v1/":{"auth":"` + auth + `"},"127.0.0.1:5001":{"username":"vnode","password":"p"}}}`)}}
	got, err := RegistryCredentials(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Server != "127.0.0.1:5001" || got[0].Username != "vnode" || got[0].Password != "p" ||
		got[1].Server != "index.docker.io" || got[1].Username != "bob" || got[1].Password != "pw:with:colons" {
		t.Errorf("got %+v", got)
	}
	if _, err := RegistryCredentials(&corev1.Secret{Type: corev1.SecretTypeOpaque}); err == nil {
		t.Errorf("an Opaque secret should be refused")
	}
}

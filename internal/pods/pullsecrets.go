package pods

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// registryCredentials resolves the pod's image pull secrets. As the kubelet
// does, a secret that is missing or not an image pull secret is skipped: the
// pull then fails on its own, where the user looks (ErrImagePull).
func (r *resolver) registryCredentials(ctx context.Context, pod *corev1.Pod) ([]backend.RegistryCredential, error) {
	var out []backend.RegistryCredential
	seen := map[string]bool{}
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		s, found, err := r.objects.secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		creds, err := RegistryCredentials(s)
		if err != nil {
			continue
		}
		for _, c := range creds {
			if !seen[c.Server] { // the first secret naming a server wins
				seen[c.Server] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// volumeSecrets resolves the Secrets that the pod's network-share volumes
// name for their credentials (backend.CredentialSecret) to their data, by
// volume name. A missing Secret is the user's to fix; so is one that lacks
// a key, which the backend, that knows the keys, reports.
func (r *resolver) volumeSecrets(ctx context.Context, pod *corev1.Pod) (map[string]map[string][]byte, error) {
	var out map[string]map[string][]byte
	for _, v := range pod.Spec.Volumes {
		name, volumeType, ok := backend.CredentialSecret(v)
		if !ok {
			continue
		}
		s, found, err := r.objects.secret(ctx, pod.Namespace, name)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, &configError{fmt.Sprintf("secret %q of %s volume %q not found", name, volumeType, v.Name)}
		}
		if out == nil {
			out = map[string]map[string][]byte{}
		}
		out[v.Name] = maps.Clone(s.Data)
	}
	return out, nil
}

package pods

import (
	"context"
	"fmt"

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

// azureFiles resolves the storage account credentials of the pod's
// azureFile volumes; a missing or incomplete secret is the user's to fix.
func (r *resolver) azureFiles(ctx context.Context, pod *corev1.Pod) (map[string]backend.AzureFileCredential, error) {
	var out map[string]backend.AzureFileCredential
	for _, v := range pod.Spec.Volumes {
		if v.AzureFile == nil {
			continue
		}
		s, found, err := r.objects.secret(ctx, pod.Namespace, v.AzureFile.SecretName)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, &configError{fmt.Sprintf("secret %q of azureFile volume %q not found", v.AzureFile.SecretName, v.Name)}
		}
		cred, err := AzureFileCredential(s)
		if err != nil {
			return nil, &configError{fmt.Sprintf("azureFile volume %q: %v", v.Name, err)}
		}
		if out == nil {
			out = map[string]backend.AzureFileCredential{}
		}
		out[v.Name] = cred
	}
	return out, nil
}

package pods

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// dockerAuth is one registry's entry of a Docker config.
type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Auth is base64("username:password"), used when the fields are empty.
	Auth string `json:"auth"`
}

// RegistryCredentials reads an image pull secret — kubernetes.io/dockerconfigjson
// ({"auths":{server:{…}}}) or the legacy kubernetes.io/dockercfg ({server:{…}})
// — into one credential per registry server, sorted by server.
func RegistryCredentials(s *corev1.Secret) ([]backend.RegistryCredential, error) {
	var auths map[string]dockerAuth
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerAuth `json:"auths"`
		}
		if err := json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg); err != nil {
			return nil, fmt.Errorf("secret %s/%s: %s: %w", s.Namespace, s.Name, corev1.DockerConfigJsonKey, err)
		}
		auths = cfg.Auths
	case corev1.SecretTypeDockercfg:
		if err := json.Unmarshal(s.Data[corev1.DockerConfigKey], &auths); err != nil {
			return nil, fmt.Errorf("secret %s/%s: %s: %w", s.Namespace, s.Name, corev1.DockerConfigKey, err)
		}
	default:
		return nil, fmt.Errorf("secret %s/%s has type %q, not an image pull secret", s.Namespace, s.Name, s.Type)
	}
	out := make([]backend.RegistryCredential, 0, len(auths))
	for server, a := range auths {
		user, pass := a.Username, a.Password
		if user == "" && pass == "" && a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("secret %s/%s: auth of %s is not base64", s.Namespace, s.Name, server)
			}
			user, pass, _ = strings.Cut(string(raw), ":")
		}
		out = append(out, backend.RegistryCredential{Server: registryHost(server), Username: user, Password: pass})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out, nil
}

// registryHost reduces a Docker config key ("https://index.docker.io/v1/")
// to the registry's host, as ACI names servers.
func registryHost(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	return s
}

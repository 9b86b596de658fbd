package localcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/vnode-io/vnode/internal/pki"
)

const contextName = "vnode"

// writeKubeconfig writes a kubeconfig at path for the user whose
// certificate is pki/<user>.crt, with the certificates embedded so that the
// file works when copied elsewhere.
func writeKubeconfig(l layout, path, user string, apiserverPort int) error {
	caPEM, err := os.ReadFile(filepath.Join(l.pki(), "ca.crt"))
	if err != nil {
		return fmt.Errorf("kubeconfig for %s: %w", user, err)
	}
	creds, err := pki.Load(l.pki(), user)
	if err != nil {
		return fmt.Errorf("kubeconfig for %s: %w", user, err)
	}
	keyPEM, err := creds.KeyPEM()
	if err != nil {
		return fmt.Errorf("kubeconfig for %s: %w", user, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{
		Server:                   "https://127.0.0.1:" + strconv.Itoa(apiserverPort),
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: creds.CertPEM(),
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: user}
	cfg.CurrentContext = contextName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encode kubeconfig for %s: %w", user, err)
	}
	return pki.WriteFile(path, data, 0o600)
}

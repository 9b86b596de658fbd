// This file holds what an ARM client needs to reach vnode's container
// instances service — endpoint, bearer token, CA certificate, and the
// subscription, resource group and location to use — as the files `vnode up`
// writes to DIR/instances/, and builds the official Azure SDK client from
// them.

package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/pki"
)

// The file names inside a client directory.
const (
	EndpointFile      = "endpoint"
	TokenFile         = "token"
	CAFile            = "ca.crt"
	SubscriptionFile  = "subscription"
	ResourceGroupFile = "resource-group"
	LocationFile      = "location"
)

// ClientFiles is the content of a client directory.
type ClientFiles struct {
	Endpoint      string
	Token         string
	CAFile        string // path; empty to use the system's roots
	Subscription  string
	ResourceGroup string
	Location      string
}

// LoadClientFiles reads a client directory.
func LoadClientFiles(dir string) (ClientFiles, error) {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("read %s (is the container instances service set up?): %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	var f ClientFiles
	var err error
	for _, x := range []struct {
		name string
		dst  *string
	}{{EndpointFile, &f.Endpoint}, {TokenFile, &f.Token}, {SubscriptionFile, &f.Subscription},
		{ResourceGroupFile, &f.ResourceGroup}, {LocationFile, &f.Location}} {
		if *x.dst, err = read(x.name); err != nil {
			return ClientFiles{}, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, CAFile)); err == nil {
		f.CAFile = filepath.Join(dir, CAFile)
	}
	return f, nil
}

// Write stores f in dir (the token and CA with mode 0600 / 0644), copying the
// CA certificate from f.CAFile.
func (f ClientFiles) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, x := range []struct {
		name, value string
		mode        os.FileMode
	}{{EndpointFile, f.Endpoint, 0o644}, {TokenFile, f.Token, 0o600}, {SubscriptionFile, f.Subscription, 0o644},
		{ResourceGroupFile, f.ResourceGroup, 0o644}, {LocationFile, f.Location, 0o644}} {
		if err := pki.WriteFile(filepath.Join(dir, x.name), []byte(x.value+"\n"), x.mode); err != nil {
			return err
		}
	}
	if f.CAFile != "" && f.CAFile != filepath.Join(dir, CAFile) {
		ca, err := os.ReadFile(f.CAFile)
		if err != nil {
			return fmt.Errorf("read CA certificate: %w", err)
		}
		if err := pki.WriteFile(filepath.Join(dir, CAFile), ca, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// HTTPClient returns an HTTP client that trusts the service's CA.
func (f ClientFiles) HTTPClient() (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", f.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxIdleConnsPerHost = 64
	// Let go of idle connections before the service does (after 60 s by
	// default), so that a request never races the service's close.
	tr.IdleConnTimeout = 30 * time.Second
	return &http.Client{Transport: tr}, nil
}

// StaticToken is an azcore credential that always presents one bearer token.
type StaticToken string

// GetToken implements azcore.TokenCredential.
func (t StaticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}

// ARMOptions returns SDK client options that send requests to the service.
// maxRetries < 0 disables the SDK's retries (to observe 429s in tests).
func (f ClientFiles) ARMOptions(maxRetries int32) (*arm.ClientOptions, error) {
	hc, err := f.HTTPClient()
	if err != nil {
		return nil, err
	}
	return &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud: cloud.Configuration{
				ActiveDirectoryAuthorityHost: "https://login.invalid/",
				Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
					cloud.ResourceManager: {Endpoint: f.Endpoint, Audience: "https://management.core.windows.net/"},
				},
			},
			Transport: hc,
			Retry:     policy.RetryOptions{MaxRetries: maxRetries},
		},
		DisableRPRegistration: true,
	}, nil
}

// ClientFactory returns the official SDK's client factory for the service.
func (f ClientFiles) ClientFactory(maxRetries int32) (*aci.ClientFactory, error) {
	opts, err := f.ARMOptions(maxRetries)
	if err != nil {
		return nil, err
	}
	return aci.NewClientFactory(f.Subscription, StaticToken(f.Token), opts)
}

package kubeletapi

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
)

// AuthConfig configures NewDelegatingAuth.
type AuthConfig struct {
	// Client makes the TokenReviews and SubjectAccessReviews. Required.
	Client kubernetes.Interface
	// ClientCA is the PEM bundle that signs accepted client certificates
	// (user = CN, groups = O). Without it, only bearer tokens are accepted.
	ClientCA []byte
	// TokenCacheTTL is how long a TokenReview's answer is kept; 2 minutes
	// (the kubelet's default) when zero.
	TokenCacheTTL time.Duration
	// AllowCacheTTL and DenyCacheTTL are how long a SubjectAccessReview's
	// answer is kept; 5 minutes and 30 seconds (the kubelet's defaults)
	// when zero.
	AllowCacheTTL time.Duration
	DenyCacheTTL  time.Duration
}

// NewDelegatingAuth returns an authenticator and an authorizer that ask
// the API server, as the kubelet's webhook modes do, through
// k8s.io/apiserver's delegating factories: client certificates verified
// against ClientCA, bearer tokens by TokenReview (authentication.k8s.io/v1),
// decisions by SubjectAccessReview (authorization.k8s.io/v1). Anonymous
// requests are not authenticated.
func NewDelegatingAuth(cfg AuthConfig) (authenticator.Request, authorizer.Authorizer, error) {
	if cfg.Client == nil {
		return nil, nil, errors.New("kubeletapi: auth needs a Client")
	}
	if cfg.TokenCacheTTL == 0 {
		cfg.TokenCacheTTL = 2 * time.Minute
	}
	if cfg.AllowCacheTTL == 0 {
		cfg.AllowCacheTTL = 5 * time.Minute
	}
	if cfg.DenyCacheTTL == 0 {
		cfg.DenyCacheTTL = 30 * time.Second
	}
	authnCfg := authenticatorfactory.DelegatingAuthenticatorConfig{
		TokenAccessReviewClient:  cfg.Client.AuthenticationV1(),
		TokenAccessReviewTimeout: 10 * time.Second,
		WebhookRetryBackoff:      webhookBackoff(),
		CacheTTL:                 cfg.TokenCacheTTL,
	}
	if len(cfg.ClientCA) > 0 {
		ca, err := dynamiccertificates.NewStaticCAContent("client-ca", cfg.ClientCA)
		if err != nil {
			return nil, nil, fmt.Errorf("kubeletapi: client CA: %w", err)
		}
		authnCfg.ClientCertificateCAContentProvider = ca
	}
	authn, _, err := authnCfg.New()
	if err != nil {
		return nil, nil, fmt.Errorf("kubeletapi: authenticator: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: cfg.Client.AuthorizationV1(),
		AllowCacheTTL:             cfg.AllowCacheTTL,
		DenyCacheTTL:              cfg.DenyCacheTTL,
		WebhookRetryBackoff:       webhookBackoff(),
	}.New()
	if err != nil {
		return nil, nil, fmt.Errorf("kubeletapi: authorizer: %w", err)
	}
	return authn, authz, nil
}

// webhookBackoff retries a review that failed for a transient reason, as
// the API server's own delegating options do.
func webhookBackoff() *wait.Backoff {
	return &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
}

package pods

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// DefaultTokenMaxAge is how old a service-account token may grow before it
// is replaced even when it is far from expiry, as the kubelet's token
// manager does.
const DefaultTokenMaxAge = 24 * time.Hour

// tokenKey identifies one projected token of a pod.
type tokenKey struct {
	account    string
	audience   string
	expiration int64
}

// token is a minted token and when it is due for replacement.
type token struct {
	value string
	due   time.Time
}

// tokenManager mints the service-account tokens of projected volumes with
// the TokenRequest API, bound to their pod, and keeps each until it is due:
// at 80% of its lifetime or once older than maxAge, as the kubelet does.
// The Node authorizer lets a node request tokens only for the service
// accounts of pods bound to it.
type tokenManager struct {
	client kubernetes.Interface
	clock  clock.Clock
	maxAge time.Duration

	mu sync.Mutex
	// tokens holds each pod's tokens, by pod UID.
	tokens map[types.UID]map[tokenKey]token
}

func newTokenManager(client kubernetes.Interface, clk clock.Clock, maxAge time.Duration) *tokenManager {
	if maxAge <= 0 {
		maxAge = DefaultTokenMaxAge
	}
	return &tokenManager{client: client, clock: clk, maxAge: maxAge, tokens: map[types.UID]map[tokenKey]token{}}
}

// get returns the pod's token for src, minting one when none is cached or
// the cached one is due. A missing service account is a *configError.
func (m *tokenManager) get(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) (string, error) {
	expiration := int64(3600)
	if src.ExpirationSeconds != nil {
		expiration = *src.ExpirationSeconds
	}
	account := pod.Spec.ServiceAccountName
	if account == "" {
		account = "default"
	}
	key := tokenKey{account: account, audience: src.Audience, expiration: expiration}
	now := m.clock.Now()
	m.mu.Lock()
	t, ok := m.tokens[pod.UID][key]
	m.mu.Unlock()
	if ok && now.Before(t.due) {
		return t.value, nil
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &expiration,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	resp, err := m.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, account, req, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		return "", &configError{fmt.Sprintf("failed to fetch token: serviceaccount %q not found", account)}
	}
	if err != nil {
		return "", fmt.Errorf("request a token for service account %s/%s: %w", pod.Namespace, account, err)
	}
	t = token{value: resp.Status.Token, due: m.due(now, resp)}
	m.mu.Lock()
	if m.tokens[pod.UID] == nil {
		m.tokens[pod.UID] = map[tokenKey]token{}
	}
	m.tokens[pod.UID][key] = t
	m.mu.Unlock()
	return t.value, nil
}

// due is when a token minted at minted is replaced: with 20% of its
// lifetime left, or at maxAge, whichever comes first.
func (m *tokenManager) due(minted time.Time, resp *authenticationv1.TokenRequest) time.Time {
	expires := resp.Status.ExpirationTimestamp.Time
	lifetime := expires.Sub(minted)
	if resp.Spec.ExpirationSeconds != nil {
		// The API server may extend a token's validity but reports the
		// lifetime asked for, the one to refresh by.
		lifetime = time.Duration(*resp.Spec.ExpirationSeconds) * time.Second
	}
	due := minted.Add(lifetime * 8 / 10)
	if byAge := minted.Add(m.maxAge); byAge.Before(due) {
		due = byAge
	}
	return due
}

// nextDue returns when the earliest of the pod's tokens is due; zero
// when it has none.
func (m *tokenManager) nextDue(uid types.UID) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var next time.Time
	for _, t := range m.tokens[uid] {
		if next.IsZero() || t.due.Before(next) {
			next = t.due
		}
	}
	return next
}

// forget drops the tokens of a pod that is gone.
func (m *tokenManager) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tokens, uid)
}

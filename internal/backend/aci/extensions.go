package aci

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"

	"github.com/vnode-io/vnode/internal/wire"
)

// KnownExtensions returns the names of the service's extensions that the
// backend knows and uses when the service announces them; the slice is the
// caller's.
func KnownExtensions() []string {
	return []string{
		wire.ExtListInstanceView, wire.ExtExecArgv, wire.ExtRemoteCommand, wire.ExtLogsFollow, wire.ExtLogsPrevious,
		wire.ExtStats, wire.ExtGracePeriod, wire.ExtTCPSocket, wire.ExtGroupHosts, wire.ExtFieldEnv,
		wire.ExtRefreshVolumes,
		wire.ExtTerminationMessage,
		wire.ExtEnvNames,
		wire.ExtContainerArgs,
		wire.ExtSecurityContext,
		wire.ExtStartupProbe, wire.ExtGRPCProbe,
		wire.ExtVolumeFiles, wire.ExtSubPath,
		wire.ExtLifecycleHooks,
		wire.ExtNestedFiles,
	}
}

// extensions is what the service last announced. Safe for concurrent use.
type extensions struct {
	mu    sync.RWMutex
	seen  bool
	names map[string]bool
}

// observe records the announcement of one response.
func (e *extensions) observe(h http.Header) {
	names := map[string]bool{}
	for _, n := range wire.ParseExtensions(h.Values(wire.ExtensionsHeader)...) {
		names[n] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen, e.names = true, names
}

// has reports whether the service offers extension name.
func (e *extensions) has(name string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.names[name]
}

// known reports whether any response was seen yet.
func (e *extensions) known() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.seen
}

// requestExtras are what a call adds to the SDK's request: query
// parameters (gracePeriodSeconds, $expand) and vnode's additions to a
// container group body (see wire.GroupExtensions), which the SDK's types cannot carry.
type requestExtras struct {
	query url.Values
	ext   wire.GroupExtensions
}

type extrasKey struct{}

func withExtras(ctx context.Context, x requestExtras) context.Context {
	return context.WithValue(ctx, extrasKey{}, x)
}

// extPolicy is a per-call pipeline policy: it applies a call's extras and
// records the extensions every response announces.
type extPolicy struct {
	ext *extensions
}

// Do implements policy.Policy.
func (p extPolicy) Do(req *policy.Request) (*http.Response, error) {
	if x, ok := req.Raw().Context().Value(extrasKey{}).(requestExtras); ok {
		if err := x.apply(req); err != nil {
			return nil, err
		}
	}
	resp, err := req.Next()
	if resp != nil && resp.StatusCode < http.StatusInternalServerError {
		p.ext.observe(resp.Header)
	}
	return resp, err
}

func (x requestExtras) apply(req *policy.Request) error {
	raw := req.Raw()
	if len(x.query) > 0 {
		q := raw.URL.Query()
		for k, vs := range x.query {
			q[k] = vs
		}
		raw.URL.RawQuery = q.Encode()
	}
	if x.ext.IsZero() || req.Body() == nil {
		return nil
	}
	body, err := io.ReadAll(req.Body())
	if err != nil {
		return err
	}
	body, err = wire.ApplyGroup(body, wire.GroupAdditions{GroupExtensions: x.ext})
	if err != nil {
		return err
	}
	return req.SetBody(streaming.NopCloser(bytes.NewReader(body)), "application/json")
}

package aci

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// newRequest builds a request for the SDK's pipeline (same credential,
// retries and transport as the SDK's calls) to path under the ARM
// endpoint, with query on top of the api-version.
func (b *Backend) newRequest(ctx context.Context, method, path string, query url.Values) (*policy.Request, error) {
	req, err := azruntime.NewRequest(ctx, method, azruntime.JoinPaths(b.endpoint, path))
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", wire.APIVersion)
	for k, vs := range query {
		q[k] = vs
	}
	req.Raw().URL.RawQuery = q.Encode()
	req.Raw().Header.Set("Accept", "application/json")
	return req, nil
}

// do sends req and turns a status other than want into the SDK's
// ResponseError, classified.
func (b *Backend) do(req *policy.Request, what string, want ...int) (*http.Response, error) {
	resp, err := b.pipeline.Do(req)
	if err != nil {
		return nil, classify(err, what)
	}
	if !azruntime.HasStatusCode(resp, want...) {
		return nil, classify(azruntime.NewResponseError(resp), what)
	}
	return resp, nil
}

// groupOf returns the group of a pod, or an error wrapping
// backend.ErrNotFound.
func (b *Backend) groupOf(pod backend.PodRef) (*entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[pod.UID]; ok && !e.creating {
		cp := *e
		return &cp, nil
	}
	return nil, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, backend.ErrNotFound)
}

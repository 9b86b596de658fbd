package aci

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// readyJSON is the part of a group's JSON that holds vnode's readiness
// addition, which the SDK's types drop.
type readyJSON struct {
	Name       string `json:"name"`
	Properties struct {
		Containers []struct {
			Name       string `json:"name"`
			Properties struct {
				InstanceView *struct {
					Ready *bool `json:"ready"`
				} `json:"instanceView"`
			} `json:"properties"`
		} `json:"containers"`
	} `json:"properties"`
}

// readiness returns each container's readiness, nil when the service
// reports none (Azure).
func (r readyJSON) readiness() map[string]bool {
	var out map[string]bool
	for _, c := range r.Properties.Containers {
		if iv := c.Properties.InstanceView; iv != nil && iv.Ready != nil {
			if out == nil {
				out = map[string]bool{}
			}
			out[c.Name] = *iv.Ready
		}
	}
	return out
}

// getGroup reads one group with its instance view.
func (b *Backend) getGroup(ctx context.Context, name string) (view, error) {
	var resp *http.Response
	res, err := b.groups.Get(policy.WithCaptureResponse(ctx, &resp), b.cfg.ResourceGroup, name, nil)
	if err != nil {
		return view{}, err
	}
	v := view{group: &res.ContainerGroup}
	if resp != nil {
		if body, err := azruntime.Payload(resp); err == nil {
			var r readyJSON
			if json.Unmarshal(body, &r) == nil {
				v.ready = r.readiness()
			}
		}
	}
	return v, nil
}

// listGroups lists the resource group's groups, page by page under the
// read limiter; with instanceView set it asks for instance views (the
// list-instance-view extension).
func (b *Backend) listGroups(ctx context.Context, instanceView bool) ([]view, error) {
	if instanceView {
		ctx = withExtras(ctx, requestExtras{query: url.Values{"$expand": {"instanceView"}}})
	}
	pager := b.groups.NewListByResourceGroupPager(b.cfg.ResourceGroup, nil)
	var out []view
	for pager.More() {
		if err := b.reads.Wait(ctx); err != nil {
			return nil, err
		}
		var resp *http.Response
		page, err := pager.NextPage(policy.WithCaptureResponse(ctx, &resp))
		if err != nil {
			return nil, classify(err, "list container groups")
		}
		ready := map[string]map[string]bool{}
		if instanceView && resp != nil {
			if body, err := azruntime.Payload(resp); err == nil {
				var list struct {
					Value []readyJSON `json:"value"`
				}
				if json.Unmarshal(body, &list) == nil {
					for _, r := range list.Value {
						ready[r.Name] = r.readiness()
					}
				}
			}
		}
		for _, g := range page.Value {
			if g != nil {
				out = append(out, view{group: g, ready: ready[deref(g.Name)]})
			}
		}
	}
	return out, nil
}

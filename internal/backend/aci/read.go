package aci

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/vnode-io/vnode/internal/wire"
)

// additionsJSON is the part of a group's JSON that holds vnode's additions
// to its instance view, which the SDK's types drop: each container's
// readiness, whether it has started, and the termination messages of its
// states.
type additionsJSON struct {
	Name       string `json:"name"`
	Properties struct {
		Containers     []containerAdditionsJSON `json:"containers"`
		InitContainers []containerAdditionsJSON `json:"initContainers"`
	} `json:"properties"`
}

type containerAdditionsJSON struct {
	Name       string `json:"name"`
	Properties struct {
		InstanceView *struct {
			Ready         *bool              `json:"ready"`
			Started       *bool              `json:"started"`
			ImageID       string             `json:"imageID"`
			CurrentState  *stateAdditionJSON `json:"currentState"`
			PreviousState *stateAdditionJSON `json:"previousState"`
		} `json:"instanceView"`
	} `json:"properties"`
}

type stateAdditionJSON struct {
	Message string `json:"message"`
}

// apply sets the additions on v: each container's readiness, nil when the
// service reports none (Azure), and the termination messages.
func (r additionsJSON) apply(v *view) {
	for _, c := range r.Properties.Containers {
		if iv := c.Properties.InstanceView; iv != nil && iv.Ready != nil {
			if v.ready == nil {
				v.ready = map[string]bool{}
			}
			v.ready[c.Name] = *iv.Ready
		}
		if iv := c.Properties.InstanceView; iv != nil && iv.Started != nil {
			if v.started == nil {
				v.started = map[string]bool{}
			}
			v.started[c.Name] = *iv.Started
		}
	}
	for _, c := range slices.Concat(r.Properties.InitContainers, r.Properties.Containers) {
		iv := c.Properties.InstanceView
		if iv == nil {
			continue
		}
		if iv.ImageID != "" {
			if v.imageIDs == nil {
				v.imageIDs = map[string]string{}
			}
			v.imageIDs[c.Name] = iv.ImageID
		}
		var m wire.StateMessages
		if iv.CurrentState != nil {
			m.Current = iv.CurrentState.Message
		}
		if iv.PreviousState != nil {
			m.Previous = iv.PreviousState.Message
		}
		if m != (wire.StateMessages{}) {
			if v.messages == nil {
				v.messages = map[string]wire.StateMessages{}
			}
			v.messages[c.Name] = m
		}
	}
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
			var r additionsJSON
			if json.Unmarshal(body, &r) == nil {
				r.apply(&v)
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
		additions := map[string]additionsJSON{}
		if instanceView && resp != nil {
			if body, err := azruntime.Payload(resp); err == nil {
				var list struct {
					Value []additionsJSON `json:"value"`
				}
				if json.Unmarshal(body, &list) == nil {
					for _, r := range list.Value {
						additions[r.Name] = r
					}
				}
			}
		}
		for _, g := range page.Value {
			if g != nil {
				v := view{group: g}
				additions[deref(g.Name)].apply(&v)
				out = append(out, v)
			}
		}
	}
	return out, nil
}

package instances

import (
	"net/http"
	"strings"
	"testing"
)

// Tokens are bound to subscriptions: through the SDK, another tenant's
// token can neither read nor delete a group, its own subscription works,
// and a subscription the service does not know is not found.
func TestTenantsAreApart(t *testing.T) {
	e := newEnv(t)
	e.create("mine", group("hello", 1, 1))

	other := e.files
	other.Token = otherTenantToken
	f, err := other.ClientFactory(-1)
	if err != nil {
		t.Fatal(err)
	}
	intruder := f.NewContainerGroupsClient()
	_, err = intruder.Get(ctx(t), testRG, "mine", nil)
	if ae := asARM(t, err); ae.Status != http.StatusForbidden || ae.Code != "AuthorizationFailed" {
		t.Errorf("get with another tenant's token: %d %s %s", ae.Status, ae.Code, ae.Message)
	}
	_, err = intruder.BeginDelete(ctx(t), testRG, "mine", nil)
	if ae := asARM(t, err); ae.Status != http.StatusForbidden {
		t.Errorf("delete with another tenant's token: %d %s", ae.Status, ae.Code)
	}
	if _, err := e.groups.Get(ctx(t), testRG, "mine", nil); err != nil {
		t.Errorf("the group's own tenant: %v", err)
	}

	other.Subscription = otherTenantSub
	if f, err = other.ClientFactory(-1); err != nil {
		t.Fatal(err)
	}
	pager := f.NewContainerGroupsClient().NewListPager(nil)
	page, err := pager.NextPage(ctx(t))
	if err != nil || len(page.Value) != 0 {
		t.Errorf("the other tenant's own subscription: %d groups, %v", len(page.Value), err)
	}

	unknown := e.files
	unknown.Subscription = "00000000-0000-0000-0000-00000000f00d"
	if f, err = unknown.ClientFactory(-1); err != nil {
		t.Fatal(err)
	}
	_, err = f.NewContainerGroupsClient().Get(ctx(t), testRG, "mine", nil)
	ae := asARM(t, err)
	if ae.Status != http.StatusNotFound || ae.Code != "SubscriptionNotFound" ||
		!strings.Contains(ae.Message, "'"+unknown.Subscription+"' could not be found") {
		t.Errorf("unknown subscription: %d %s %s", ae.Status, ae.Code, ae.Message)
	}
}

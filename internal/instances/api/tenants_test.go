package api_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/throttle"
	"github.com/vnode-io/vnode/internal/wire"
)

func listPath(base, sub, rg string) string {
	p := base + "/subscriptions/" + sub
	if rg != "" {
		p += "/resourceGroups/" + rg
	}
	return p + "/providers/Microsoft.ContainerInstance/containerGroups?api-version=" + wire.APIVersion
}

// A token works on its own subscriptions only; the others answer as ARM
// does: unknown ones 404 SubscriptionNotFound, another tenant's 403
// AuthorizationFailed.
func TestTokensAreBoundToSubscriptions(t *testing.T) {
	base, hc := fuzzServer(t)
	const unknown = "00000000-0000-0000-0000-00000000dead"
	cases := []struct {
		name, token, sub string
		status           int
		code, message    string
	}{
		{"own subscription", fuzzToken, fuzzSub, http.StatusOK, "", ""},
		{"own subscription in upper case", fuzzToken, strings.ToUpper(fuzzSub), http.StatusOK, "", ""},
		{"the other token's own", otherToken, otherSub, http.StatusOK, "", ""},
		{"another tenant's subscription", fuzzToken, otherSub, http.StatusForbidden, "AuthorizationFailed",
			"does not have authorization to perform action 'Microsoft.ContainerInstance/containerGroups/read' over scope '/subscriptions/" + otherSub},
		{"the other way round", otherToken, fuzzSub, http.StatusForbidden, "AuthorizationFailed", ""},
		{"unknown subscription", fuzzToken, unknown, http.StatusNotFound, "SubscriptionNotFound",
			"The subscription '" + unknown + "' could not be found."},
		{"malformed subscription", fuzzToken, "sub%21", http.StatusBadRequest, "InvalidSubscriptionId",
			"The provided subscription identifier 'sub!' is malformed or invalid."},
		{"too long a subscription", fuzzToken, strings.Repeat("a", 65), http.StatusBadRequest, "InvalidSubscriptionId", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := call(t, hc, http.MethodGet, listPath(base, tc.sub, ""), tc.token, "")
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.code == "" {
				return
			}
			if code, _ := armError(t, body); code != tc.code || h.Get("x-ms-error-code") != tc.code {
				t.Errorf("code %s (header %s), want %s", code, h.Get("x-ms-error-code"), tc.code)
			}
			if !strings.Contains(string(body), tc.message) {
				t.Errorf("body %s, want it to say %q", body, tc.message)
			}
		})
	}
	// A group another tenant's token asks for is not even looked up.
	put := `{"location":"local","properties":{"osType":"Linux","containers":[{"name":"c","properties":{"image":"hello",
	 "resources":{"requests":{"cpu":1,"memoryInGB":1}}}}]}}`
	group := base + "/subscriptions/" + fuzzSub + "/resourceGroups/" + fuzzRG +
		"/providers/Microsoft.ContainerInstance/containerGroups/mine?api-version=" + wire.APIVersion
	if status, _, body := call(t, hc, http.MethodPut, group, fuzzToken, put); status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", status, body)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		if status, _, body := call(t, hc, method, group, otherToken, ""); status != http.StatusForbidden {
			t.Errorf("%s of another tenant's group: %d %s, want 403", method, status, body)
		}
	}
}

// Resource group names follow ARM's rules: 1 to 90 letters, digits, '_',
// '-', '.', '(' and ')', not ending in a period.
func TestResourceGroupNames(t *testing.T) {
	base, hc := fuzzServer(t)
	for _, tc := range []struct {
		rg    string
		valid bool
	}{
		{"rg", true}, {"My_RG-1.(test)", true}, {"gr%C3%BC%C3%9Fe", true}, {strings.Repeat("r", 90), true},
		{"a", true},
		{strings.Repeat("r", 91), false}, {"rg.", false}, {"rg%21", false}, {"r%20g", false}, {"rg%2A", false},
		{"%FF", false},
	} {
		status, h, body := call(t, hc, http.MethodGet, listPath(base, fuzzSub, tc.rg), fuzzToken, "")
		switch {
		case tc.valid && status != http.StatusOK:
			t.Errorf("resource group %q: %d %s, want 200", tc.rg, status, body)
		case !tc.valid && (status != http.StatusBadRequest || h.Get("x-ms-error-code") != "InvalidResourceGroup"):
			t.Errorf("resource group %q: %d %s, want 400 InvalidResourceGroup", tc.rg, status, body)
		}
	}
	// What an error repeats of a name is bounded.
	long := strings.Repeat("%21", 10000)
	_, _, body := call(t, hc, http.MethodGet, listPath(base, fuzzSub, long), fuzzToken, "")
	if len(body) > 1000 {
		t.Errorf("the answer to a 10,000-character name is %d bytes", len(body))
	}
}

// Subscriptions a client makes up are refused before the limiter keeps
// anything for them: a flood of new names leaves it empty.
func TestMadeUpSubscriptionsCostNothing(t *testing.T) {
	limiter := throttle.New(config.RateLimits{ReadsPerSecond: 1000, ReadBurst: 1000}, nil)
	base, hc := testServer(t, limiter)
	for i := range 200 {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		sub := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
		if status, _, body := call(t, hc, http.MethodGet, listPath(base, sub, ""), fuzzToken, ""); status != http.StatusNotFound {
			t.Fatalf("request %d: %d %s, want 404", i, status, body)
		}
	}
	if n := limiter.Len(); n != 0 {
		t.Errorf("the limiter keeps %d budgets for made-up subscriptions", n)
	}
	if status, _, _ := call(t, hc, http.MethodGet, listPath(base, fuzzSub, ""), fuzzToken, ""); status != http.StatusOK {
		t.Errorf("own subscription: %d", status)
	}
	if n := limiter.Len(); n != 1 {
		t.Errorf("%d budgets after one known subscription's request, want 1", n)
	}
}

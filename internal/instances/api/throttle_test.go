package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/throttle"
	"github.com/vnode-io/vnode/internal/wire"
)

// Every throttled answer tells the budgets left in ARM's headers, a
// refusal too, with Retry-After: creates and deletes (the service's
// windows), and reads (the HTTP layer's bucket).
func TestRateLimitHeaders(t *testing.T) {
	const (
		pt5m  = "x-ms-ratelimit-remaining-subscription-resource-requests-pt5m"
		pt1h  = "x-ms-ratelimit-remaining-subscription-resource-requests-pt1h"
		reads = "x-ms-ratelimit-remaining-subscription-reads"
	)
	limiter := throttle.New(config.RateLimits{CreatesPer5m: 2, CreatesPer1h: 10, DeletesPer5m: 1,
		ReadsPerSecond: 1, ReadBurst: 2}, nil)
	base, hc := testServer(t, limiter)
	group := base + "/subscriptions/" + fuzzSub + "/resourceGroups/" + fuzzRG +
		"/providers/Microsoft.ContainerInstance/containerGroups/"
	query := "?api-version=" + wire.APIVersion
	put := `{"location":"local","properties":{"osType":"Linux","containers":[{"name":"web","properties":{"image":"hello",` +
		`"resources":{"requests":{"cpu":1,"memoryInGB":1}}}}]}}`
	want := func(what string, h http.Header, name, value string) {
		t.Helper()
		if got := h.Get(name); got != value {
			t.Errorf("%s: %s %q, want %q", what, name, got, value)
		}
	}
	refused := func(what string, status int, h http.Header, body []byte, code string) {
		t.Helper()
		if status != http.StatusTooManyRequests {
			t.Fatalf("%s: %d %s, want 429", what, status, body)
		}
		if got, _ := armError(t, body); got != code {
			t.Errorf("%s: code %s, want %s", what, got, code)
		}
		if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n <= 0 {
			t.Errorf("%s: Retry-After %q, want a positive number of seconds", what, h.Get("Retry-After"))
		}
	}

	for i, name := range []string{"a", "b"} {
		status, h, body := call(t, hc, http.MethodPut, group+name+query, fuzzToken, put)
		if status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, status, body)
		}
		want("create "+name, h, pt5m, strconv.Itoa(1-i))
		want("create "+name, h, pt1h, strconv.Itoa(9-i))
	}
	status, h, body := call(t, hc, http.MethodPut, group+"c"+query, fuzzToken, put)
	refused("third create", status, h, body, "ResourceRequestsThrottled")
	want("third create", h, pt5m, "0")
	want("third create", h, pt1h, "8")

	if status, h, body = call(t, hc, http.MethodDelete, group+"a"+query, fuzzToken, ""); status != http.StatusAccepted {
		t.Fatalf("delete a: %d %s", status, body)
	}
	want("delete a", h, pt5m, "0")
	status, h, body = call(t, hc, http.MethodDelete, group+"b"+query, fuzzToken, "")
	refused("second delete", status, h, body, "ResourceRequestsThrottled")
	want("second delete", h, pt5m, "0")
	if status, h, _ = call(t, hc, http.MethodDelete, group+"none"+query, fuzzToken, ""); status != http.StatusNoContent {
		t.Errorf("delete of no group: %d, want 204", status)
	}
	want("delete of no group", h, pt5m, "")

	for i := range 2 {
		status, h, body := call(t, hc, http.MethodGet, group+"b"+query, fuzzToken, "")
		if status != http.StatusOK {
			t.Fatalf("read %d: %d %s", i, status, body)
		}
		want("read "+strconv.Itoa(i), h, reads, strconv.Itoa(1-i))
	}
	status, h, body = call(t, hc, http.MethodGet, group+"b"+query, fuzzToken, "")
	refused("third read", status, h, body, "SubscriptionRequestsThrottled")
	want("third read", h, reads, "0")
}

package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/armerr"
)

func testRouter() *router {
	rt := &router{}
	nop := func(http.ResponseWriter, *http.Request, params) {}
	rt.add(http.MethodGet, "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", "get", nop)
	rt.add(http.MethodPut, "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", "put", nop)
	rt.add(http.MethodGet, "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/containerGroups", "list", nop)
	rt.add(http.MethodPost, "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/start", "start", nop)
	rt.add(http.MethodGet, "providers/Microsoft.ContainerInstance/operations", "ops", nop)
	return rt
}

func TestRouterMatch(t *testing.T) {
	rt := testRouter()
	const group = "/subscriptions/SubID/resourceGroups/My-RG/providers/Microsoft.ContainerInstance/containerGroups/Web"
	cases := []struct {
		name, method, path string
		op                 string // "" when no route matches
		params             params
		pathMatched        bool
	}{
		{"exact", "GET", group, "get", params{"sub": "SubID", "rg": "My-RG", "name": "Web"}, true},
		{"method selects the route", "PUT", group, "put", params{"sub": "SubID", "rg": "My-RG", "name": "Web"}, true},
		{"literal segments ignore case, params keep it", "GET",
			"/SUBSCRIPTIONS/SubID/resourcegroups/My-RG/PROVIDERS/microsoft.containerinstance/CONTAINERGROUPS/Web",
			"get", params{"sub": "SubID", "rg": "My-RG", "name": "Web"}, true},
		{"trailing slash", "GET", group + "/", "get", params{"sub": "SubID", "rg": "My-RG", "name": "Web"}, true},
		{"no leading slash", "GET", group[1:], "get", params{"sub": "SubID", "rg": "My-RG", "name": "Web"}, true},
		{"action", "POST", group + "/Start", "start", params{"sub": "SubID", "rg": "My-RG", "name": "Web"}, true},
		{"list", "GET", "/subscriptions/s/providers/Microsoft.ContainerInstance/containerGroups", "list", params{"sub": "s"}, true},
		{"no params", "GET", "/providers/microsoft.containerinstance/Operations", "ops", nil, true},
		{"wrong method on a known path", "DELETE", group, "", nil, true},
		{"wrong method on an action", "GET", group + "/start", "", nil, true},
		{"empty parameter segment", "GET", "/subscriptions//resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/web", "", nil, false},
		{"empty last segment", "GET", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups//", "", nil, false},
		{"too short", "GET", "/subscriptions/s/resourceGroups/rg", "", nil, false},
		{"too long", "GET", group + "/start/now", "", nil, false},
		{"literal mismatch", "GET", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/containerGroups/web", "", nil, false},
		{"root", "GET", "/", "", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, p, pathMatched := rt.match(tc.method, tc.path)
			if tc.op == "" {
				if r != nil {
					t.Fatalf("matched %s, want none", r.op)
				}
				if pathMatched != tc.pathMatched {
					t.Errorf("pathMatched = %v, want %v", pathMatched, tc.pathMatched)
				}
				return
			}
			if r == nil {
				t.Fatalf("no route (pathMatched %v), want %s", pathMatched, tc.op)
			}
			if r.op != tc.op {
				t.Errorf("op %s, want %s", r.op, tc.op)
			}
			if !pathMatched {
				t.Errorf("pathMatched false on a match")
			}
			if !reflect.DeepEqual(p, tc.params) {
				t.Errorf("params %v, want %v", p, tc.params)
			}
		})
	}
}

// The service's own route table: every ARM path reaches its operation and
// the parameters come out as sent.
func TestServerRoutes(t *testing.T) {
	s := &Server{}
	s.routes()
	const cg = "/subscriptions/00000000-AAAA-0000-0000-000000000000/resourceGroups/RG/providers/Microsoft.ContainerInstance/containerGroups/grp"
	const loc = "/subscriptions/00000000-AAAA-0000-0000-000000000000/providers/Microsoft.ContainerInstance/locations/West%20Europe"
	cases := []struct{ method, path, op, action string }{
		{"PUT", cg, "containerGroups.createOrUpdate", "Microsoft.ContainerInstance/containerGroups/write"},
		{"GET", cg, "containerGroups.get", "Microsoft.ContainerInstance/containerGroups/read"},
		{"PATCH", cg, "containerGroups.update", "Microsoft.ContainerInstance/containerGroups/write"},
		{"DELETE", cg, "containerGroups.delete", "Microsoft.ContainerInstance/containerGroups/delete"},
		{"GET", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups", "containerGroups.listByResourceGroup", "Microsoft.ContainerInstance/containerGroups/read"},
		{"GET", "/subscriptions/s/providers/Microsoft.ContainerInstance/containerGroups", "containerGroups.list", "Microsoft.ContainerInstance/containerGroups/read"},
		{"POST", cg + "/start", "containerGroups.start", "Microsoft.ContainerInstance/containerGroups/start/action"},
		{"POST", cg + "/STOP", "containerGroups.stop", "Microsoft.ContainerInstance/containerGroups/stop/action"},
		{"POST", cg + "/restart", "containerGroups.restart", "Microsoft.ContainerInstance/containerGroups/restart/action"},
		{"POST", cg + "/refreshVolumes", "vnode.refreshVolumes", "Microsoft.ContainerInstance/containerGroups/refreshVolumes/action"},
		{"POST", cg + "/REFRESHVOLUMES", "vnode.refreshVolumes", "Microsoft.ContainerInstance/containerGroups/refreshVolumes/action"},
		{"GET", cg + "/outboundNetworkDependenciesEndpoints", "containerGroups.outboundNetworkDependenciesEndpoints", "Microsoft.ContainerInstance/containerGroups/outboundNetworkDependenciesEndpoints/read"},
		{"GET", cg + "/containers/web/logs", "containers.listLogs", "Microsoft.ContainerInstance/containerGroups/containers/logs/read"},
		{"POST", cg + "/containers/web/exec", "containers.executeCommand", "Microsoft.ContainerInstance/containerGroups/containers/exec/action"},
		{"POST", cg + "/containers/web/attach", "containers.attach", "Microsoft.ContainerInstance/containerGroups/containers/attach/action"},
		{"GET", loc + "/usages", "location.listUsage", "Microsoft.ContainerInstance/locations/usages/read"},
		{"GET", loc + "/capabilities", "location.listCapabilities", "Microsoft.ContainerInstance/locations/capabilities/read"},
		{"GET", loc + "/cachedImages", "location.listCachedImages", "Microsoft.ContainerInstance/locations/cachedImages/read"},
		{"GET", loc + "/operations/op-1", "location.operationStatus", "Microsoft.ContainerInstance/locations/operations/read"},
		{"GET", "/providers/Microsoft.ContainerInstance/operations", "operations.list", "Microsoft.ContainerInstance/operations/read"},
		{"GET", "/subscriptions/s/providers/Microsoft.ContainerInstance/meteredUsage", "vnode.meteredUsage", "Microsoft.ContainerInstance/meteredUsage/read"},
	}
	for _, tc := range cases {
		r, p, _ := s.router.match(tc.method, tc.path)
		if r == nil || r.op != tc.op {
			t.Errorf("%s %s: route %v, want %s", tc.method, tc.path, r, tc.op)
			continue
		}
		if r.action != tc.action {
			t.Errorf("%s %s: action %s, want %s", tc.method, tc.path, r.action, tc.action)
		}
		if sub, ok := p["subscription"]; ok && sub != "s" && sub != "00000000-AAAA-0000-0000-000000000000" {
			t.Errorf("%s %s: subscription %q", tc.method, tc.path, sub)
		}
	}
	_, p, _ := s.router.match("GET", cg+"/containers/Web-1/logs")
	want := params{"subscription": "00000000-AAAA-0000-0000-000000000000", "resourceGroup": "RG", "name": "grp", "container": "Web-1"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("params %v, want %v", p, want)
	}
	if r, _, matched := s.router.match("POST", cg); r != nil || !matched {
		t.Errorf("POST on a group: route %v, pathMatched %v; want none, true", r, matched)
	}
}

func TestCheckAPIVersion(t *testing.T) {
	cases := []struct{ v, code string }{
		{"", "MissingApiVersionParameter"},
		{"2023-05-01", ""},
		{"2024-10-01-preview", ""},
		{"2023-05-02", ""},
		{"2099-01-01", ""},
		{"2023-05-01-preview", ""},
		{"2021-10-01", "NoRegisteredProviderFound"},
		{"2023-04-30", "NoRegisteredProviderFound"},
		{"2022-12-01-preview", "NoRegisteredProviderFound"},
		{"garbage", "NoRegisteredProviderFound"},
		{"2024-10-01-beta", "NoRegisteredProviderFound"},
		{"2024-10-1", "NoRegisteredProviderFound"},
		{" 2024-10-01", "NoRegisteredProviderFound"},
	}
	for _, tc := range cases {
		err := checkAPIVersion(tc.v)
		if tc.code == "" {
			if err != nil {
				t.Errorf("checkAPIVersion(%q) = %v, want nil", tc.v, err)
			}
			continue
		}
		var ae *armerr.Error
		if !errors.As(err, &ae) {
			t.Errorf("checkAPIVersion(%q) = %v, want %s", tc.v, err, tc.code)
			continue
		}
		if ae.Code != tc.code || ae.Status != http.StatusBadRequest {
			t.Errorf("checkAPIVersion(%q) = %d %s, want 400 %s", tc.v, ae.Status, ae.Code, tc.code)
		}
	}
}

func writeTokens(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	subA = "00000000-0000-0000-0000-00000000000a"
	subB = "00000000-0000-0000-0000-00000000000b"
)

func TestLoadTokens(t *testing.T) {
	path := writeTokens(t, "# the tokens\n\n  alpha  "+subA+"\n\t# indented comment\nbeta "+subA+"\t "+
		strings.ToUpper(subB)+"\r\n\n#gamma "+subA+"\n")
	tok, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.grants) != 2 {
		t.Fatalf("%d tokens, want 2 (alpha, beta)", len(tok.grants))
	}
	for _, good := range []string{"alpha", "beta"} {
		if _, err := tok.Authenticate(bearer("Bearer " + good)); err != nil {
			t.Errorf("token %q refused: %v", good, err)
		}
	}
	for _, bad := range []string{"gamma", "#gamma", "# the tokens", "the", "alpha " + subA} {
		if _, err := tok.Authenticate(bearer("Bearer " + bad)); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
	beta, _ := tok.Authenticate(bearer("Bearer beta"))
	if !beta.subscriptions[subA] || !beta.subscriptions[subB] || len(beta.subscriptions) != 2 {
		t.Errorf("beta's subscriptions %v, want %s and %s", beta.subscriptions, subA, subB)
	}

	for name, content := range map[string]string{
		"empty":         "",
		"blank lines":   "\n\n   \n",
		"only comments": "# a\n#b\n",
		// Before tokens were bound to subscriptions: refused, not opened up.
		"token without subscriptions": "alpha " + subA + "\nbeta\n",
		"invalid subscription":        "alpha sub/../other\n",
		"token twice":                 "alpha " + subA + "\nalpha " + subB + "\n",
	} {
		if _, err := LoadTokens(writeTokens(t, content)); err == nil {
			t.Errorf("%s file accepted", name)
		} else if strings.Contains(err.Error(), "alpha") || strings.Contains(err.Error(), "beta") {
			t.Errorf("%s: the error names a token: %v", name, err)
		}
	}
	if _, err := LoadTokens(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

func bearer(h string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if h != "" {
		r.Header.Set("Authorization", h)
	}
	return r
}

func TestAuthenticate(t *testing.T) {
	tok, err := NewTokens(Binding{Token: "right-token", Subscriptions: []string{subA}},
		Binding{Token: "second", Subscriptions: []string{subB}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, header, code string }{
		{"missing header", "", "AuthenticationFailed"},
		{"basic scheme", "Basic cmlnaHQtdG9rZW4=", "AuthenticationFailedInvalidHeader"},
		{"scheme only", "Bearer", "AuthenticationFailedInvalidHeader"},
		{"scheme and blank", "Bearer   ", "AuthenticationFailedInvalidHeader"},
		{"token without scheme", "right-token", "AuthenticationFailedInvalidHeader"},
		{"wrong token", "Bearer wrong-token", "InvalidAuthenticationToken"},
		{"prefix of a token", "Bearer right", "InvalidAuthenticationToken"},
		{"token case matters", "Bearer RIGHT-TOKEN", "InvalidAuthenticationToken"},
		{"right token", "Bearer right-token", ""},
		{"lowercase scheme", "bearer right-token", ""},
		{"uppercase scheme", "BEARER second", ""},
		{"surrounding spaces", "Bearer  right-token ", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tok.Authenticate(bearer(tc.header))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *armerr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
			if ae.Status != http.StatusUnauthorized || ae.Code != tc.code {
				t.Errorf("%d %s, want 401 %s", ae.Status, ae.Code, tc.code)
			}
		})
	}
	empty, err := NewTokens()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Authenticate(bearer("Bearer anything")); err == nil {
		t.Error("an empty token set accepted a token")
	}
}

package api_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/wire"
)

// call sends an ARM request with the test token (none when token is "")
// and returns the status, header and body.
func call(t *testing.T, hc *http.Client, method, url, token, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// armError decodes an ARM error body.
func armError(t *testing.T, body []byte) (code, target string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Target string }
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an ARM error: %s", body)
	}
	return e.Error.Code, e.Error.Target
}

func enc(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// POST …/refreshVolumes answers 200 with the group as GET shows it (with
// vnode's additions and no secret contents), or an ARM error.
func TestRefreshVolumesRoute(t *testing.T) {
	base, hc := fuzzServer(t)
	group := base + "/subscriptions/" + fuzzSub + "/resourceGroups/" + fuzzRG +
		"/providers/Microsoft.ContainerInstance/containerGroups/"
	query := "?api-version=" + wire.APIVersion
	put := `{"location":"local","properties":{"osType":"Linux","hostname":"web-0",
	 "volumes":[{"name":"config","secret":{"a.conf":"` + enc("old") + `"}},{"name":"cache","emptyDir":{}}],
	 "containers":[{"name":"web","properties":{"image":"hello","resources":{"requests":{"cpu":1,"memoryInGB":1}},
	  "volumeMounts":[{"name":"config","mountPath":"/conf"}]}}]}}`
	if status, _, body := call(t, hc, http.MethodPut, group+"web"+query, fuzzToken, put); status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", status, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, body := call(t, hc, http.MethodGet, group+"web"+query, fuzzToken, "")
		if strings.Contains(string(body), `"provisioningState":"Succeeded"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group did not provision: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}

	refresh := `{"volumes":[{"name":"config","secret":{"b.conf":"` + enc("new-secret-contents") + `"}}]}`
	status, header, body := call(t, hc, http.MethodPost, group+"web/refreshVolumes"+query, fuzzToken, refresh)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, body)
	}
	if !strings.Contains(header.Get(wire.ExtensionsHeader), "refresh-volumes") {
		t.Errorf("extensions %q lack refresh-volumes", header.Get(wire.ExtensionsHeader))
	}
	var got struct {
		Name       string
		Properties struct {
			Hostname          string
			ProvisioningState string
			Volumes           []struct {
				Name   string
				Secret map[string]*string
			}
			InstanceView *struct{ State string }
		}
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	p := got.Properties
	if got.Name != "web" || p.Hostname != "web-0" || p.ProvisioningState != "Succeeded" || p.InstanceView == nil ||
		len(p.Volumes) != 2 || len(p.Volumes[0].Secret) != 1 || p.Volumes[0].Secret["b.conf"] != nil {
		t.Errorf("answer %s", body)
	}
	if strings.Contains(string(body), enc("new-secret-contents")) || strings.Contains(string(body), "new-secret-contents") {
		t.Errorf("the answer holds the secret: %s", body)
	}

	for _, tc := range []struct {
		name, url, token, body string
		status                 int
		code, target           string
	}{
		{"no token", group + "web/refreshVolumes" + query, "", refresh, http.StatusUnauthorized, "AuthenticationFailed", ""},
		{"no api-version", group + "web/refreshVolumes", fuzzToken, refresh, http.StatusBadRequest, "MissingApiVersionParameter", ""},
		{"unknown group", group + "nope/refreshVolumes" + query, fuzzToken, refresh, http.StatusNotFound, "ResourceNotFound", ""},
		{"not a secret volume", group + "web/refreshVolumes" + query, fuzzToken,
			`{"volumes":[{"name":"cache","secret":{}}]}`, http.StatusBadRequest, "InvalidVolume", "volumes[0]"},
		{"no volumes", group + "web/refreshVolumes" + query, fuzzToken, `{}`, http.StatusBadRequest, "InvalidVolume", "volumes"},
		{"malformed body", group + "web/refreshVolumes" + query, fuzzToken, `{"volumes":`, http.StatusBadRequest, "InvalidRequestContent", ""},
		{"empty body", group + "web/refreshVolumes" + query, fuzzToken, ``, http.StatusBadRequest, "InvalidRequestContent", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := call(t, hc, http.MethodPost, tc.url, tc.token, tc.body)
			code, target := armError(t, body)
			if status != tc.status || code != tc.code || target != tc.target {
				t.Errorf("%d %s at %q, want %d %s at %q: %s", status, code, target, tc.status, tc.code, tc.target, body)
			}
		})
	}
}

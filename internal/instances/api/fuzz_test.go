package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/api"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
	"github.com/vnode-io/vnode/internal/instances/sealer"
	"github.com/vnode-io/vnode/internal/instances/service"
	"github.com/vnode-io/vnode/internal/instances/store"
	"github.com/vnode-io/vnode/internal/instances/throttle"
	"github.com/vnode-io/vnode/internal/wire"
)

const (
	fuzzToken = "fuzz-token-6b2d"
	fuzzSub   = "00000000-0000-0000-0000-0000000f0220"
	fuzzRG    = "fuzz-rg"
	// otherToken may use otherSub only.
	otherToken = "other-token-91ac"
	otherSub   = "00000000-0000-0000-0000-0000000f0221"
)

// fuzzServer runs the service and its HTTP layer in process, as app.Start
// assembles them, with quotas too large to matter and no rate limits.
func fuzzServer(f testing.TB) (base string, hc *http.Client) {
	return testServer(f, nil)
}

// testServer is fuzzServer with limiter (nil for none) throttling the
// HTTP layer and the service's creates and deletes, as in app.
func testServer(f testing.TB, limiter *throttle.Limiter) (base string, hc *http.Client) {
	ctx := context.Background()
	dir := f.TempDir()
	cfg := config.Default()
	cfg.Runtime = "fake"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.TokensFile = filepath.Join(dir, "tokens") // not read: the tokens are given below
	cfg.RateLimits = config.RateLimits{}
	cfg.Locations = []config.Location{config.DefaultLocationSpec("local"), config.DefaultLocationSpec("second")}
	for i := range cfg.Locations {
		cfg.Locations[i].Quota = config.Quota{StandardCores: math.MaxInt32, ContainerGroups: math.MaxInt32}
	}
	if err := cfg.Complete(dir); err != nil {
		f.Fatal(err)
	}
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		f.Fatal(err)
	}
	seal, err := sealer.New(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	rt := fake.New(fake.Options{})
	svc := service.New(service.Options{Config: cfg, Store: st, Runtime: rt, Sealer: seal, Limiter: limiter, Logger: log})
	if err := svc.Open(ctx); err != nil {
		f.Fatal(err)
	}
	tokens, err := api.NewTokens(api.Binding{Token: fuzzToken, Subscriptions: []string{fuzzSub}},
		api.Binding{Token: otherToken, Subscriptions: []string{otherSub}})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base = "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = api.New(api.Options{Service: svc, Tokens: tokens, Limiter: limiter, BaseURL: base,
		Logger: log}).Handler()
	srv.Start()
	f.Cleanup(func() {
		srv.Close()
		svc.Close()
		_ = rt.Close()
		_ = st.Close()
	})
	return base, srv.Client()
}

// fuzzName keeps the URL-safe characters of s (at most 70), so some names
// are valid group names and others break the naming rules.
func fuzzName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 70 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "fuzz"
	}
	return b.String()
}

// fuzzValues are the strings of a request body by how they may be shown.
type fuzzValues struct {
	// secrets are write-only: secureValue, registry password, storage
	// account and workspace keys, secret volume contents.
	secrets []string
	// protected are the string values of extensions' protectedSettings.
	protected []string
	// public is every other string, keys included.
	public []string
}

// fuzzCollect walks a decoded request body.
func fuzzCollect(v any, into *fuzzValues) {
	fuzzSecrets(v, &into.secrets, &into.protected, &into.public)
}

func fuzzSecrets(v any, secrets, protected, public *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			*public = append(*public, k)
			switch k {
			case "secureValue", "password", "storageAccountKey", "workspaceKey":
				if s, ok := val.(string); ok {
					*secrets = append(*secrets, s)
					continue
				}
			case "protectedSettings":
				fuzzProtected(val, protected, public)
				continue
			case "secret":
				if files, ok := val.(map[string]any); ok {
					for file, content := range files {
						*public = append(*public, file)
						if s, ok := content.(string); ok {
							*secrets = append(*secrets, s)
							if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
								*secrets = append(*secrets, string(raw))
							}
						} else {
							fuzzSecrets(content, secrets, protected, public)
						}
					}
					continue
				}
			}
			fuzzSecrets(val, secrets, protected, public)
		}
	case []any:
		for _, e := range x {
			fuzzSecrets(e, secrets, protected, public)
		}
	case string:
		*public = append(*public, x)
	}
}

// fuzzProtected collects the string values of protected settings; their
// keys are public.
func fuzzProtected(v any, values, keys *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			*keys = append(*keys, k)
			fuzzProtected(val, values, keys)
		}
	case []any:
		for _, e := range x {
			fuzzProtected(e, values, keys)
		}
	case string:
		*values = append(*values, x)
	}
}

// fuzzStrings collects the strings (keys and values) of a decoded
// response, leaving out what the service writes itself.
func fuzzStrings(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch k {
			case "instanceView", "id", "type", "provisioningState", "ip", "fqdn":
				continue
			}
			*out = append(*out, k)
			fuzzStrings(val, out)
		}
	case []any:
		for _, e := range x {
			fuzzStrings(e, out)
		}
	case string:
		*out = append(*out, x)
	}
}

// fuzzLeaks reports which secrets (long enough to mean something, and not
// also sent as a public value) appear in body.
func fuzzLeaks(body []byte, secrets, public []string) []string {
	var decoded any
	if err := json.Unmarshal(body, &decoded); err != nil {
		return nil
	}
	var seen []string
	fuzzStrings(decoded, &seen)
	var leaks []string
	for _, s := range secrets {
		if len(s) < 8 || containsFold(public, s) {
			continue
		}
		for _, v := range seen {
			if strings.Contains(v, s) {
				leaks = append(leaks, s)
				break
			}
		}
	}
	return leaks
}

func containsFold(hay []string, s string) bool {
	ls := strings.ToLower(s)
	for _, h := range hay {
		if strings.Contains(strings.ToLower(h), ls) {
			return true
		}
	}
	return false
}

// fuzzWriteOnly checks that a group as returned carries no write-only
// field; it reports whether an extension's protectedSettings were returned.
func fuzzWriteOnly(t *testing.T, g *aci.ContainerGroup, raw []byte) (protectedReturned bool) {
	t.Helper()
	p := g.Properties
	if p == nil {
		t.Fatalf("group without properties: %s", raw)
	}
	envs := func(vars []*aci.EnvironmentVariable) {
		for _, v := range vars {
			if v != nil && v.SecureValue != nil {
				t.Fatalf("secureValue of %v returned: %s", v.Name, raw)
			}
		}
	}
	for _, c := range p.Containers {
		if c != nil && c.Properties != nil {
			envs(c.Properties.EnvironmentVariables)
		}
	}
	for _, c := range p.InitContainers {
		if c != nil && c.Properties != nil {
			envs(c.Properties.EnvironmentVariables)
		}
	}
	for _, r := range p.ImageRegistryCredentials {
		if r != nil && r.Password != nil {
			t.Fatalf("registry password returned: %s", raw)
		}
	}
	for _, v := range p.Volumes {
		if v == nil {
			continue
		}
		for file, content := range v.Secret {
			if content != nil {
				t.Fatalf("content of secret file %q returned: %s", file, raw)
			}
		}
		if v.AzureFile != nil && v.AzureFile.StorageAccountKey != nil {
			t.Fatalf("storage account key returned: %s", raw)
		}
	}
	if p.Diagnostics != nil && p.Diagnostics.LogAnalytics != nil && p.Diagnostics.LogAnalytics.WorkspaceKey != nil {
		t.Fatalf("workspace key returned: %s", raw)
	}
	for _, x := range p.Extensions {
		if x != nil && x.Properties != nil && x.Properties.ProtectedSettings != nil {
			protectedReturned = true
		}
	}
	return protectedReturned
}

func fuzzSeedBodies() []string {
	return []string{
		`{"location":"local","properties":{"osType":"Linux","containers":[{"name":"main","properties":{"image":"img",` +
			`"resources":{"requests":{"cpu":1,"memoryInGB":1.5}}}}]}}`,
		`{"location":"Local","tags":{"a":"b"},"properties":{"osType":"linux","restartPolicy":"OnFailure",` +
			`"containers":[{"name":"web","properties":{"image":"nginx","command":["sleep","10"],` +
			`"ports":[{"port":80},{"port":53,"protocol":"UDP"}],` +
			`"environmentVariables":[{"name":"PLAIN","value":"visible"},{"name":"TOKEN","secureValue":"s3cr3t-fuzz-value"}],` +
			`"resources":{"requests":{"cpu":1.5,"memoryInGB":2},"limits":{"cpu":1.5}},` +
			`"volumeMounts":[{"name":"creds","mountPath":"/etc/creds","readOnly":true},{"name":"share","mountPath":"/data"}],` +
			`"livenessProbe":{"httpGet":{"path":"/","port":80,"scheme":"http"},"periodSeconds":10}}},` +
			`{"name":"side","properties":{"image":"busybox","resources":{"requests":{"cpu":0.5,"memoryInGB":0.5}}}}],` +
			`"initContainers":[{"name":"init","properties":{"image":"busybox","command":["exit","0"],` +
			`"environmentVariables":[{"name":"INIT_SECRET","secureValue":"init-s3cr3t-value"}]}}],` +
			`"imageRegistryCredentials":[{"server":"registry.local","username":"u","password":"registry-s3cr3t-pw"}],` +
			`"volumes":[{"name":"creds","secret":{"token":"c2VjcmV0LWZpbGUtY29udGVudA=="}},` +
			`{"name":"share","azureFile":{"shareName":"s","storageAccountName":"acct","storageAccountKey":"share-s3cr3t-key"}},` +
			`{"name":"scratch","emptyDir":{}}],` +
			`"ipAddress":{"type":"Public","dnsNameLabel":"fuzz-label","ports":[{"port":80,"protocol":"TCP"},{"port":53,"protocol":"udp"}]},` +
			`"dnsConfig":{"nameServers":["10.0.0.10"],"searchDomains":"a.local b.local"}}}`,
		`{"location":"second","properties":{"osType":"Linux","containers":[{"name":"a","properties":{"image":"i",` +
			`"resources":{"requests":{"cpu":4,"memoryInGB":16}}}}],"diagnostics":{"logAnalytics":` +
			`{"workspaceId":"w","workspaceKey":"workspace-s3cr3t-key"}},"extensions":[{"name":"x","properties":` +
			`{"extensionType":"kube-proxy","version":"1.0","settings":{"a":1},"protectedSettings":{"kubeConfig":"cHJvdGVjdGVk"}}}]}}`,
		`{"location":"x","properties":{"osType":"linux","containers":[null,{"name":"a","properties":null}],` +
			`"volumes":[null,{"name":"vvvvv","secret":{"":null}}],"ipAddress":{"ports":[null]}}}`,
		`{"location":"local","properties":{"osType":"Linux","containers":[{"name":"a","properties":{"image":"i",` +
			`"resources":{"requests":{"cpu":1e308,"memoryInGB":-0},"limits":{"cpu":1e308,"gpu":{"count":-1}}},` +
			`"livenessProbe":{},"volumeMounts":[{}],"environmentVariables":[{}],"ports":[{"port":-5}]}}],` +
			`"imageRegistryCredentials":[{}],"initContainers":[{}]}}`,
		`{"location":"local","properties":{"osType":"Windows","containers":[]}}`,
		`{"location":"local","properties":{"containers":"nope"}}`,
		`{"location":"local","properties":{"osType":"Linux","containers":[{"name":"main","properties":{"image":"img",` +
			`"resources":{"requests":{"cpu":0.015,"memoryInGB":0.15}}}}]}}`,
		`{"id":"/x","name":"other","type":"t","location":"local","properties":{"provisioningState":"Succeeded",` +
			`"instanceView":{"state":"Running"},"osType":"Linux","containers":[{"name":"main","properties":{"image":"img",` +
			`"resources":{"requests":{"cpu":1,"memoryInGB":1}},"instanceView":{"restartCount":5}}}]}}`,
		`{}`, `null`, `[]`, `""`, `{"location":`, ``,
	}
}

func FuzzPutContainerGroup(f *testing.F) {
	base, hc := fuzzServer(f)
	for i, body := range fuzzSeedBodies() {
		f.Add([]byte(body), "seed-"+strconv.Itoa(i))
		f.Add([]byte(body), []string{"fuzz", "web", "Bad_Name", "a", "x-1"}[i%5])
	}
	f.Fuzz(func(t *testing.T, body []byte, rawName string) {
		name := fuzzName(rawName)
		path := base + "/subscriptions/" + fuzzSub + "/resourceGroups/" + fuzzRG +
			"/providers/Microsoft.ContainerInstance/containerGroups/" + name + "?api-version=" + wire.APIVersion
		do := func(method string, body []byte) (int, http.Header, []byte) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+fuzzToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v (input %q)", method, name, err, body)
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("%s %s: read: %v", method, name, err)
			}
			return resp.StatusCode, resp.Header, data
		}

		var in fuzzValues
		var decoded any
		if json.Unmarshal(body, &decoded) == nil {
			fuzzCollect(decoded, &in)
		}
		in.public = append(in.public, name, fuzzSub, fuzzRG)
		checkGroup := func(what string, status int, data []byte) {
			var g aci.ContainerGroup
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatalf("%s %s answered %d with a body that is not a container group: %v: %s", what, name, status, err, data)
			}
			if g.Name == nil || *g.Name != name || g.Properties == nil || g.Properties.ProvisioningState == nil {
				t.Fatalf("%s %s answered %d with %s", what, name, status, data)
			}
			if fuzzWriteOnly(t, &g, data) {
				t.Fatalf("%s %s answered %d with extensions' protectedSettings: %s", what, name, status, data)
			}
			if leaks := fuzzLeaks(data, in.secrets, in.public); len(leaks) > 0 {
				t.Fatalf("%s %s answered %d revealing %q: %s", what, name, status, leaks, data)
			}
			if leaks := fuzzLeaks(data, in.protected, in.public); len(leaks) > 0 {
				t.Fatalf("%s %s answered %d revealing protected settings %q: %s", what, name, status, leaks, data)
			}
		}

		status, h, data := do(http.MethodPut, body)
		switch {
		case status == http.StatusOK || status == http.StatusCreated:
			checkGroup("PUT", status, data)
			// The group as read back reveals nothing either.
			gs, _, gdata := do(http.MethodGet, nil)
			if gs != http.StatusOK {
				t.Fatalf("GET %s after PUT %d: %d %s", name, status, gs, gdata)
			}
			checkGroup("GET", gs, gdata)
		case status >= 400 && status < 500:
			var wire struct {
				Error *struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(data, &wire); err != nil || wire.Error == nil {
				t.Fatalf("PUT %s answered %d without an ARM error: %v: %s", name, status, err, data)
			}
			if wire.Error.Code == "" || wire.Error.Message == "" {
				t.Fatalf("PUT %s answered %d with an empty code or message: %s", name, status, data)
			}
			if hc := h.Get("x-ms-error-code"); hc != wire.Error.Code {
				t.Fatalf("PUT %s: x-ms-error-code %q, body code %q", name, hc, wire.Error.Code)
			}
			if leaks := fuzzLeaks(data, append(in.secrets, in.protected...), in.public); len(leaks) > 0 {
				t.Fatalf("PUT %s refusal %d reveals %q: %s", name, status, leaks, data)
			}
		default:
			t.Fatalf("PUT %s answered %d: %s (input %q)", name, status, data, body)
		}
	})
}

func TestPutDoesNotReturnProtectedSettings(t *testing.T) {
	base, hc := fuzzServer(t)
	body := `{"location":"local","properties":{"osType":"Linux","containers":[{"name":"a","properties":{"image":"i",` +
		`"resources":{"requests":{"cpu":1,"memoryInGB":1}}}}],"extensions":[{"name":"kube-proxy","properties":` +
		`{"extensionType":"kube-proxy","version":"1.0","settings":{},"protectedSettings":{"kubeConfig":"a3ViZWNvbmZpZy1zZWNyZXQ="}}}]}}`
	path := base + "/subscriptions/" + fuzzSub + "/resourceGroups/" + fuzzRG +
		"/providers/Microsoft.ContainerInstance/containerGroups/ext?api-version=" + wire.APIVersion
	for _, method := range []string{http.MethodPut, http.MethodGet} {
		var rd io.Reader
		if method == http.MethodPut {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+fuzzToken)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 300 {
			t.Fatalf("%s: %d %s", method, resp.StatusCode, data)
		}
		if strings.Contains(string(data), "a3ViZWNvbmZpZy1zZWNyZXQ=") || strings.Contains(string(data), "protectedSettings") {
			t.Errorf("%s returns the protected settings: %s", method, data)
		}
	}
}

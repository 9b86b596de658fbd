package instances

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
)

// valAPIVersion is the api-version the SDK speaks.
const valAPIVersion = "2023-05-01"

// valProps returns the properties of a body built by group.
func valProps(g *aci.ContainerGroup) *aci.ContainerGroupPropertiesProperties { return g.Properties }

// valCtr returns the properties of the i-th container of a body.
func valCtr(g *aci.ContainerGroup, i int) *aci.ContainerProperties {
	return g.Properties.Containers[i].Properties
}

// valContainer returns a valid extra container.
func valContainer(name string) *aci.Container {
	return &aci.Container{Name: to.Ptr(name), Properties: &aci.ContainerProperties{Image: to.Ptr("img"),
		Resources: &aci.ResourceRequirements{Requests: &aci.ResourceRequests{CPU: to.Ptr(0.5), MemoryInGB: to.Ptr(0.5)}}}}
}

// valARMBody decodes an ARM error body, failing the test if it has another shape.
func valARMBody(t *testing.T, what string, h http.Header, body []byte) (code, message string) {
	t.Helper()
	var wire struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &wire); err != nil || wire.Error == nil {
		t.Fatalf("%s: body is not an ARM error: %v: %s", what, err, body)
	}
	if wire.Error.Code == "" || wire.Error.Message == "" {
		t.Errorf("%s: ARM error without code or message: %s", what, body)
	}
	if got := h.Get("x-ms-error-code"); got != wire.Error.Code {
		t.Errorf("%s: x-ms-error-code %q, body code %q", what, got, wire.Error.Code)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	return wire.Error.Code, wire.Error.Message
}

func TestValidationRejectsInvalidBodies(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *fake.Options) {
		c.Limits.ContainersPerGroup = 2
		c.Limits.VolumesPerGroup = 1
		c.Limits.PortsPerIP = 2
	})
	const c0 = "properties.containers[0]"
	const p0 = c0 + ".properties"
	cases := []struct {
		name   string // group name in the URL
		mutate func(g *aci.ContainerGroup)
		status int
		code   string
		target string
	}{
		{"Bad_Name", func(*aci.ContainerGroup) {}, 400, "InvalidContainerGroupName", "containerGroupName"},
		{"bad--name", func(*aci.ContainerGroup) {}, 400, "InvalidContainerGroupName", "containerGroupName"},
		{"no-location", func(g *aci.ContainerGroup) { g.Location = nil }, 400, "LocationRequired", "location"},
		{"unknown-location", func(g *aci.ContainerGroup) { g.Location = to.Ptr("mars") },
			400, "LocationNotAvailableForResourceType", "location"},
		{"windows", func(g *aci.ContainerGroup) { valProps(g).OSType = to.Ptr(aci.OperatingSystemTypesWindows) },
			400, "OsVersionNotSupported", "properties.osType"},
		{"no-containers", func(g *aci.ContainerGroup) {
			valProps(g).Containers = nil
			valProps(g).IPAddress = nil
		}, 400, "MissingContainers", "properties.containers"},
		{"bad-container-name", func(g *aci.ContainerGroup) { valProps(g).Containers[0].Name = to.Ptr("Main_1") },
			400, "InvalidContainerName", c0 + ".name"},
		{"duplicate-names", func(g *aci.ContainerGroup) {
			valProps(g).Containers = append(valProps(g).Containers, valContainer("main"))
		}, 400, "DuplicateContainerName", "properties.containers[1].name"},
		{"no-image", func(g *aci.ContainerGroup) { valCtr(g, 0).Image = nil },
			400, "MissingContainerImage", p0 + ".image"},
		{"cpu-step", func(g *aci.ContainerGroup) { valCtr(g, 0).Resources.Requests.CPU = to.Ptr(1.005) },
			400, "InvalidContainerResourceRequests", p0 + ".resources.requests.cpu"},
		{"memory-step", func(g *aci.ContainerGroup) { valCtr(g, 0).Resources.Requests.MemoryInGB = to.Ptr(1.55) },
			400, "InvalidContainerResourceRequests", p0 + ".resources.requests.memoryInGB"},
		{"below-minimum", func(g *aci.ContainerGroup) { valCtr(g, 0).Resources.Requests.CPU = to.Ptr(0.5) },
			400, "ContainerGroupResourceRequestBelowMinimum", "properties.containers"},
		{"above-capabilities-cpu", func(g *aci.ContainerGroup) { valCtr(g, 0).Resources.Requests.CPU = to.Ptr(5.0) },
			400, "ContainerGroupResourceRequestExceedsCapabilities", "properties.containers"},
		{"above-capabilities-memory", func(g *aci.ContainerGroup) { valCtr(g, 0).Resources.Requests.MemoryInGB = to.Ptr(16.5) },
			400, "ContainerGroupResourceRequestExceedsCapabilities", "properties.containers"},
		{"limit-above-request", func(g *aci.ContainerGroup) {
			valCtr(g, 0).Resources.Limits = &aci.ResourceLimits{CPU: to.Ptr(2.0)}
		}, 400, "ContainerLimitGreaterThanContainerGroupTotalRequest", p0 + ".resources.limits.cpu"},
		{"too-many-containers", func(g *aci.ContainerGroup) {
			valProps(g).Containers = append(valProps(g).Containers, valContainer("side-a"), valContainer("side-b"))
		}, 400, "TooManyContainers", "properties.containers"},
		{"too-many-volumes", func(g *aci.ContainerGroup) {
			valProps(g).Volumes = []*aci.Volume{{Name: to.Ptr("vol-one"), EmptyDir: map[string]any{}},
				{Name: to.Ptr("vol-two"), EmptyDir: map[string]any{}}}
		}, 400, "TooManyVolumes", "properties.volumes"},
		{"too-many-ports", func(g *aci.ContainerGroup) {
			valCtr(g, 0).Ports = []*aci.ContainerPort{{Port: to.Ptr[int32](80)}, {Port: to.Ptr[int32](81)}, {Port: to.Ptr[int32](82)}}
			valProps(g).IPAddress.Ports = []*aci.Port{{Port: to.Ptr[int32](80)}, {Port: to.Ptr[int32](81)}, {Port: to.Ptr[int32](82)}}
		}, 400, "TooManyIpAddressPorts", "properties.ipAddress.ports"},
		{"volume-without-source", func(g *aci.ContainerGroup) {
			valProps(g).Volumes = []*aci.Volume{{Name: to.Ptr("no-source")}}
		}, 400, "InvalidVolumeSource", "properties.volumes[0]"},
		{"git-revision-option", func(g *aci.ContainerGroup) {
			valProps(g).Volumes = []*aci.Volume{{Name: to.Ptr("source"), GitRepo: &aci.GitRepoVolume{
				Repository: to.Ptr("https://example.com/r.git"), Revision: to.Ptr("--pathspec-from-file=/etc/shadow")}}}
		}, 400, "InvalidGitRepoVolume", "properties.volumes[0].gitRepo.revision"},
		{"git-host-repository", func(g *aci.ContainerGroup) {
			valProps(g).Volumes = []*aci.Volume{{Name: to.Ptr("source"), GitRepo: &aci.GitRepoVolume{Repository: to.Ptr("file:///root")}}}
		}, 400, "InvalidGitRepoVolume", "properties.volumes[0].gitRepo.repository"},
		{"privileged", func(g *aci.ContainerGroup) {
			valCtr(g, 0).SecurityContext = &aci.SecurityContextDefinition{Privileged: to.Ptr(true)}
		}, 400, "InvalidContainerSecurityContext", p0 + ".securityContext.privileged"},
		{"sys-admin", func(g *aci.ContainerGroup) {
			valCtr(g, 0).SecurityContext = &aci.SecurityContextDefinition{Capabilities: &aci.SecurityContextCapabilitiesDefinition{
				Add: to.SliceOfPtrs("SYS_ADMIN")}}
		}, 400, "InvalidContainerSecurityContext", p0 + ".securityContext.capabilities.add[0]"},
		{"env-nul", func(g *aci.ContainerGroup) {
			valCtr(g, 0).EnvironmentVariables = []*aci.EnvironmentVariable{{Name: to.Ptr("X"), Value: to.Ptr("a\x00b")}}
		}, 400, "InvalidContainerEnvironmentVariable", p0 + ".environmentVariables[0]"},
		{"undefined-volume-mount", func(g *aci.ContainerGroup) {
			valCtr(g, 0).VolumeMounts = []*aci.VolumeMount{{Name: to.Ptr("nowhere"), MountPath: to.Ptr("/mnt/data")}}
		}, 400, "InvalidVolumeMount", p0 + ".volumeMounts[0].name"},
		{"bad-env-name", func(g *aci.ContainerGroup) {
			valCtr(g, 0).EnvironmentVariables = []*aci.EnvironmentVariable{{Name: to.Ptr("BAD=NAME"), Value: to.Ptr("x")}}
		}, 400, "InvalidContainerEnvironmentVariable", p0 + ".environmentVariables[0].name"},
		{"env-value-and-secure", func(g *aci.ContainerGroup) {
			valCtr(g, 0).EnvironmentVariables = []*aci.EnvironmentVariable{{Name: to.Ptr("X"), Value: to.Ptr("a"), SecureValue: to.Ptr("b")}}
		}, 400, "InvalidContainerEnvironmentVariable", p0 + ".environmentVariables[0]"},
		{"bad-port", func(g *aci.ContainerGroup) { valCtr(g, 0).Ports[0].Port = to.Ptr[int32](70000) },
			400, "InvalidContainerPorts", p0 + ".ports[0].port"},
		{"ip-port-not-exposed", func(g *aci.ContainerGroup) { valProps(g).IPAddress.Ports[0].Port = to.Ptr[int32](443) },
			400, "IpAddressPortNotExposed", "properties.ipAddress.ports[0]"},
		{"bad-restart-policy", func(g *aci.ContainerGroup) {
			valProps(g).RestartPolicy = to.Ptr(aci.ContainerGroupRestartPolicy("Sometimes"))
		}, 400, "InvalidRestartPolicy", "properties.restartPolicy"},
		{"probe-without-action", func(g *aci.ContainerGroup) {
			valCtr(g, 0).LivenessProbe = &aci.ContainerProbe{PeriodSeconds: to.Ptr[int32](10)}
		}, 400, "InvalidContainerProbe", p0 + ".livenessProbe"},
		{"probe-bad-port", func(g *aci.ContainerGroup) {
			valCtr(g, 0).ReadinessProbe = &aci.ContainerProbe{HTTPGet: &aci.ContainerHTTPGet{Port: to.Ptr[int32](0)}}
		}, 400, "InvalidContainerProbe", p0 + ".readinessProbe.httpGet.port"},
		{"registry-without-server", func(g *aci.ContainerGroup) {
			valProps(g).ImageRegistryCredentials = []*aci.ImageRegistryCredential{{Username: to.Ptr("u"), Password: to.Ptr("p")}}
		}, 400, "InvalidImageRegistryCredential", "properties.imageRegistryCredentials[0].server"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := group("img", 1, 1)
			tc.mutate(&body)
			_, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, tc.name, body, nil)
			if err == nil {
				t.Fatalf("PUT %s was accepted", tc.name)
			}
			ae := asARM(t, err)
			if ae.Status != tc.status || ae.Code != tc.code || ae.Target != tc.target {
				t.Errorf("PUT %s: %d %s at %q, want %d %s at %q (%s)", tc.name, ae.Status, ae.Code, ae.Target,
					tc.status, tc.code, tc.target, ae.Message)
			}
			_, err = e.groups.Get(ctx(t), testRG, tc.name, nil)
			if ae := asARM(t, err); ae.Status != 404 || ae.Code != "ResourceNotFound" {
				t.Errorf("GET after the refused PUT: %d %s", ae.Status, ae.Code)
			}
		})
	}
	if n := len(mustList(t, e)); n != 0 {
		t.Errorf("%d groups exist after refused PUTs", n)
	}
	if n := e.rt.Runs(); n != 0 {
		t.Errorf("the runtime ran %d groups after refused PUTs", n)
	}
}

func TestValidationRequestEnvelope(t *testing.T) {
	e := newEnv(t)
	e.create("there", group("img", 1, 1))
	q := "?api-version=" + valAPIVersion
	const wrongToken = "wrong-token-9f3e1c"
	var responses []string // every header and body seen, to look for tokens in
	do := func(method, path, token, body string) (int, http.Header, []byte) {
		t.Helper()
		var rd *strings.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		var status int
		var h http.Header
		var data []byte
		if rd != nil {
			status, h, data = e.raw(method, path, token, rd)
		} else {
			status, h, data = e.raw(method, path, token, nil)
		}
		for k, vs := range h {
			responses = append(responses, k+": "+strings.Join(vs, ", "))
		}
		responses = append(responses, string(data))
		return status, h, data
	}

	t.Run("malformed JSON", func(t *testing.T) {
		status, h, body := do(http.MethodPut, groupPath("broken")+q, "", `{"location": "local", "properties": {`)
		code, _ := valARMBody(t, "malformed JSON", h, body)
		if status != 400 || code != "InvalidRequestContent" {
			t.Errorf("malformed JSON: %d %s, want 400 InvalidRequestContent", status, code)
		}
		if status, _, _ := do(http.MethodGet, groupPath("broken")+q, "", ""); status != 404 {
			t.Errorf("GET after malformed PUT: %d, want 404", status)
		}
	})
	t.Run("wrong JSON types", func(t *testing.T) {
		status, h, body := do(http.MethodPut, groupPath("broken")+q, "", `{"location": "local", "properties": {"containers": "main"}}`)
		code, _ := valARMBody(t, "wrong types", h, body)
		if status != 400 || code != "InvalidRequestContent" {
			t.Errorf("wrong JSON types: %d %s, want 400 InvalidRequestContent", status, code)
		}
	})
	t.Run("empty body", func(t *testing.T) {
		status, h, body := do(http.MethodPut, groupPath("broken")+q, "", "")
		code, _ := valARMBody(t, "empty body", h, body)
		if status != 400 || code != "InvalidRequestContent" {
			t.Errorf("empty body: %d %s, want 400 InvalidRequestContent", status, code)
		}
	})
	t.Run("api-version missing", func(t *testing.T) {
		status, h, body := do(http.MethodGet, groupPath("there"), "", "")
		code, _ := valARMBody(t, "no api-version", h, body)
		if status != 400 || code != "MissingApiVersionParameter" {
			t.Errorf("no api-version: %d %s", status, code)
		}
	})
	t.Run("api-version too old", func(t *testing.T) {
		status, h, body := do(http.MethodGet, groupPath("there")+"?api-version=2021-10-01", "", "")
		code, msg := valARMBody(t, "old api-version", h, body)
		if status != 400 || code != "NoRegisteredProviderFound" || !contains(msg, "2021-10-01") {
			t.Errorf("old api-version: %d %s %s", status, code, msg)
		}
	})
	t.Run("api-version malformed", func(t *testing.T) {
		status, h, body := do(http.MethodGet, groupPath("there")+"?api-version=latest", "", "")
		code, _ := valARMBody(t, "malformed api-version", h, body)
		if status != 400 || code != "NoRegisteredProviderFound" {
			t.Errorf("malformed api-version: %d %s", status, code)
		}
	})
	t.Run("api-version newer", func(t *testing.T) {
		status, _, body := do(http.MethodGet, groupPath("there")+"?api-version=2025-09-01", "", "")
		if status != 200 {
			t.Fatalf("newer api-version: %d %s", status, body)
		}
		var g aci.ContainerGroup
		if err := json.Unmarshal(body, &g); err != nil || g.Name == nil || *g.Name != "there" {
			t.Errorf("newer api-version body: %v %s", err, body)
		}
	})
	t.Run("no token", func(t *testing.T) {
		status, h, body := do(http.MethodGet, groupPath("there")+q, "-", "")
		code, _ := valARMBody(t, "no token", h, body)
		if status != 401 || code != "AuthenticationFailed" {
			t.Errorf("no token: %d %s", status, code)
		}
		if h.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		if contains(string(body), `"there"`) {
			t.Errorf("unauthenticated answer reveals the group: %s", body)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		status, h, body := do(http.MethodGet, groupPath("there")+q, wrongToken, "")
		code, _ := valARMBody(t, "wrong token", h, body)
		if status != 401 || code != "InvalidAuthenticationToken" {
			t.Errorf("wrong token: %d %s", status, code)
		}
		// Mutations are refused as well, and change nothing.
		status, _, _ = do(http.MethodDelete, groupPath("there")+q, wrongToken, "")
		if status != 401 {
			t.Errorf("DELETE with a wrong token: %d", status)
		}
		if g := e.get("there"); *g.Properties.ProvisioningState != "Succeeded" {
			t.Errorf("group after an unauthenticated DELETE: %s", *g.Properties.ProvisioningState)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			status, _, body := do(http.MethodGet, p, "-", "")
			if status != 200 || strings.TrimSpace(string(body)) != "ok" {
				t.Errorf("%s without a token: %d %q", p, status, body)
			}
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		status, h, body := do(http.MethodGet, "/subscriptions/"+testSub+"/providers/Microsoft.ContainerInstance/nothingHere"+q, "", "")
		code, _ := valARMBody(t, "unknown path", h, body)
		if status != 404 || code == "" {
			t.Errorf("unknown path: %d %s", status, code)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		status, h, body := do(http.MethodPost, groupPath("there")+q, "", "{}")
		code, _ := valARMBody(t, "wrong method", h, body)
		if status != 405 {
			t.Errorf("POST on a group: %d %s, want 405", status, code)
		}
		status, h, body = do(http.MethodGet, groupPath("there")+"/stop"+q, "", "")
		code, _ = valARMBody(t, "GET stop", h, body)
		if status != 405 {
			t.Errorf("GET on stop: %d %s, want 405", status, code)
		}
	})
	for _, r := range responses {
		if contains(r, testToken) || contains(r, wrongToken) {
			t.Errorf("a response reveals a bearer token: %s", r)
		}
	}
}

func TestValidationImmutableUpdate(t *testing.T) {
	e := newEnv(t)
	e.create("imm", group("img", 1, 1))
	before := e.waitState("imm", "Running")
	runs := e.rt.Runs()

	bigger := group("img", 2, 1)
	_, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, "imm", bigger, nil)
	ae := asARM(t, err)
	if ae.Status != 409 || ae.Code != "InvalidContainerGroupUpdate" ||
		ae.Target != "properties.containers[0].properties.resources.requests.cpu" {
		t.Errorf("cpu change: %d %s at %q (%s)", ae.Status, ae.Code, ae.Target, ae.Message)
	}

	moved := group("img", 1, 1)
	moved.Location = to.Ptr("second")
	_, err = e.groups.BeginCreateOrUpdate(ctx(t), testRG, "imm", moved, nil)
	if ae := asARM(t, err); ae.Status != 400 || ae.Code != "InvalidResourceLocation" || ae.Target != "location" {
		t.Errorf("location change: %d %s at %q (%s)", ae.Status, ae.Code, ae.Target, ae.Message)
	}

	after := e.get("imm")
	cpu := *after.Properties.Containers[0].Properties.Resources.Requests.CPU
	if cpu != 1 || *after.Location != testLoc || state(after) != "Running" ||
		*after.Properties.ProvisioningState != "Succeeded" {
		t.Errorf("after refused updates: cpu %v location %s state %s provisioning %s",
			cpu, *after.Location, state(after), *after.Properties.ProvisioningState)
	}
	if *after.Properties.IPAddress.IP != *before.Properties.IPAddress.IP {
		t.Errorf("IP changed from %s to %s", *before.Properties.IPAddress.IP, *after.Properties.IPAddress.IP)
	}
	if n := e.rt.Runs(); n != runs {
		t.Errorf("refused updates redeployed the group (%d runs, was %d)", n, runs)
	}
	iv := after.Properties.Containers[0].Properties.InstanceView
	if *iv.RestartCount != 0 {
		t.Errorf("refused updates restarted the container %d times", *iv.RestartCount)
	}
}

func TestValidationImmutableUpdateNamesGroup(t *testing.T) {
	e := newEnv(t)
	e.create("imm", group("img", 1, 1))
	_, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, "imm", group("img", 2, 1), nil)
	if ae := asARM(t, err); ae.Code != "InvalidContainerGroupUpdate" || !contains(ae.Message, "container group 'imm'") {
		t.Errorf("refusal does not name the group: %s %s", ae.Code, ae.Message)
	}
}

func TestValidationStoppedGroupRedeploysWithNewResources(t *testing.T) {
	e := newEnv(t)
	e.create("resize", group("img", 1, 1))
	e.waitState("resize", "Running")
	if _, err := e.groups.Stop(ctx(t), testRG, "resize", nil); err != nil {
		t.Fatal(err)
	}
	g := e.create("resize", group("img", 2, 3))
	if cpu := *g.Properties.Containers[0].Properties.Resources.Requests.CPU; cpu != 2 {
		t.Errorf("cpu after redeploying PUT: %v", cpu)
	}
	e.waitState("resize", "Running")
}

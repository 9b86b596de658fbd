package aci_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/wire"
)

// privateRegistry serves go-containerregistry's registry on loopback
// behind basic authentication, counting the requests it answers, and
// holds an image with the shell image's entrypoint as host/vnode/shell:1.
func privateRegistry(t *testing.T, user, password string) (image string, requests *atomic.Int32) {
	t.Helper()
	requests = &atomic.Int32{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64",
		Config: v1.Config{Entrypoint: []string{"/bin/sh"}, Cmd: []string{"-c", "echo the image's own"}}, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	image = strings.TrimPrefix(srv.URL, "http://") + "/vnode/shell:1"
	if err := images.Push(context.Background(), img, image, &authn.Basic{Username: user, Password: password}, true); err != nil {
		t.Fatal(err)
	}
	requests.Store(0)
	return image, requests
}

// serviceGET GETs path (below the subscription) from the service as the
// client files' tenant, with the api-version, and returns the answer with
// its body read.
func serviceGET(t *testing.T, files wire.ClientFiles, path string) (*http.Response, []byte) {
	t.Helper()
	hc, err := files.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(testContext(t), http.MethodGet,
		files.Endpoint+"/subscriptions/"+files.Subscription+path+"?api-version="+wire.APIVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+files.Token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp, data
}

// rawGroup GETs a group's JSON as the service answers it, additions and all.
func rawGroup(t *testing.T, files wire.ClientFiles, name string) (aci.ContainerGroup, wire.GroupExtensions) {
	t.Helper()
	resp, data := serviceGET(t, files, "/resourceGroups/"+files.ResourceGroup+"/providers/Microsoft.ContainerInstance/containerGroups/"+name)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET group %s: %s %s", name, resp.Status, data)
	}
	var g aci.ContainerGroup
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	ext, err := wire.ParseGroup(data)
	if err != nil {
		t.Fatal(err)
	}
	return g, ext
}

func commands(g aci.ContainerGroup) map[string][]string {
	out := map[string][]string{}
	for _, c := range g.Properties.Containers {
		for _, a := range c.Properties.Command {
			out[*c.Name] = append(out[*c.Name], *a)
		}
	}
	for _, c := range g.Properties.InitContainers {
		for _, a := range c.Properties.Command {
			out[*c.Name] = append(out[*c.Name], *a)
		}
	}
	return out
}

// Containers that set args without a command run as on a kubelet: with the
// container-args extension the args reach the service apart from the
// command, and the registry is not asked; without it (Azure) they follow
// the image's entrypoint, read from the registry with the pod's pull
// secret, and a registry that refuses is a retryable failure.
func TestArgsWithoutCommand(t *testing.T) {
	const user, password = "puller", "pull-s3cret"
	image, requests := privateRegistry(t, user, password)
	argsOnly := func(name string) *backend.Workload {
		w := workload(name, "1")
		main := &w.Pod.Spec.Containers[0]
		main.Image, main.Args = image, []string{"-c", "echo $(A)"}
		w.Pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: image, Args: []string{"-c", "true"}}}
		w.RegistryCredentials = []backend.RegistryCredential{{Server: strings.Split(image, "/")[0], Username: user, Password: password}}
		return w
	}
	files := startService(t, nil)
	ctx := testContext(t)

	b, rec := newBackend(t, files)
	w := argsOnly("with-ext")
	if err := b.Create(ctx, w); err != nil {
		t.Fatalf("create with container-args: %v", err)
	}
	rec.waitFor(t, w.Pod.UID, "Running with an IP", running)
	g, ext := rawGroup(t, files, "default-with-ext")
	if cmds := commands(g); len(cmds) != 0 ||
		!reflect.DeepEqual(ext.Args, map[string][]string{"main": {"-c", "echo 1"}, "init": {"-c", "true"}}) {
		t.Errorf("with container-args: commands %q, args %q", cmds, ext.Args)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the registry was asked %d times though the service takes args", n)
	}

	var others []string
	for _, n := range wire.Extensions() {
		if n != wire.ExtContainerArgs {
			others = append(others, n)
		}
	}
	azure := announce(t, files, strings.Join(others, ","))
	b2, rec2 := newBackend(t, azure)
	w = argsOnly("without-ext")
	if err := b2.Create(ctx, w); err != nil {
		t.Fatalf("create without container-args: %v", err)
	}
	rec2.waitFor(t, w.Pod.UID, "Running with an IP", running)
	g, ext = rawGroup(t, files, "default-without-ext")
	want := map[string][]string{"main": {"/bin/sh", "-c", "echo 1"}, "init": {"/bin/sh", "-c", "true"}}
	if cmds := commands(g); !reflect.DeepEqual(cmds, want) || len(ext.Args) != 0 {
		t.Errorf("without container-args: commands %q, args %q; want the entrypoint before the args", cmds, ext.Args)
	}
	if requests.Load() == 0 {
		t.Error("the registry was not asked")
	}

	w = argsOnly("no-secret")
	w.RegistryCredentials = nil
	err := b2.Create(ctx, w)
	if !errors.Is(err, backend.ErrRetryable) || errors.Is(err, backend.ErrUnsatisfiable) || !strings.Contains(err.Error(), "401") ||
		!strings.Contains(err.Error(), image) || strings.Contains(err.Error(), password) {
		t.Errorf("an image the registry refuses: %v, want a retryable error naming the image and the 401", err)
	}
	if slices.Contains(groupNames(t, files), "default-no-secret") {
		t.Error("a group was created for the pod whose image config could not be read")
	}
	w = argsOnly("bad-ref")
	w.Pod.Spec.Containers[0].Image = "Not A Reference::"
	if err := b2.Create(ctx, w); !errors.Is(err, backend.ErrUnsatisfiable) {
		t.Errorf("an image reference that is none: %v, want ErrUnsatisfiable", err)
	}
}

// groupNames lists the service's groups in the resource group.
func groupNames(t *testing.T, files wire.ClientFiles) []string {
	t.Helper()
	factory, err := files.ClientFactory(0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	pager := factory.NewContainerGroupsClient().NewListByResourceGroupPager(files.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range page.Value {
			names = append(names, *g.Name)
		}
	}
	return names
}

package service

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/store"
	"github.com/vnode-io/vnode/internal/instances/validate"
	"github.com/vnode-io/vnode/internal/wire"
)

func b64(s string) *string { return to.Ptr(base64.StdEncoding.EncodeToString([]byte(s))) }

// refreshedConfig is the "config" volume of secretBody with new files:
// app.conf changed, empty gone, added new.
func refreshedConfig() []*aci.Volume {
	return []*aci.Volume{{Name: to.Ptr("config"), Secret: map[string]*string{
		"app.conf": b64("refreshed-contents"), "added": b64("added-contents")}}}
}

var refreshedFiles = map[string][]byte{"app.conf": []byte("refreshed-contents"), "added": []byte("added-contents")}

// runtimeSecret returns the files the runtime has for a secret volume.
func (h *harness) runtimeSecret(uid, volume string) map[string][]byte {
	h.t.Helper()
	return h.runtimeVolume(uid, volume).Secret
}

// operations counts the operations ever recorded.
func (h *harness) operations() int {
	h.t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(h.cfg.DataDir, store.FileName)+"?mode=ro")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(h.ctx, `SELECT COUNT(*) FROM operations`).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func wantARM(t *testing.T, err error, status int, code, target string) {
	t.Helper()
	var ae *errdefs.Error
	if !errors.As(err, &ae) || armerr.Status(ae.Kind) != status || ae.Code != code || ae.Target != target {
		t.Fatalf("err %v, want %d %s at %q", err, status, code, target)
	}
}

// A refresh replaces a running group's secret files in the store (sealed)
// and in the runtime, without an operation, a redeployment, a restart or a
// change of metering; the new files survive a restart of the service and a
// stop and start of the group.
func TestRefreshVolumes(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "secretive"}
	h.mustPut(ref, secretBody())
	uid := h.uid(ref)
	runs, ops, usage := h.rt.Runs(), h.operations(), h.usageRows(uid)

	g, err := h.s.RefreshVolumes(h.ctx, ref, refreshedConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if *g.Properties.ProvisioningState != ProvisioningSucceeded || *g.Properties.InstanceView.State != StateRunning {
		t.Errorf("after the refresh: provisioning %s, state %s", *g.Properties.ProvisioningState, *g.Properties.InstanceView.State)
	}
	if files := g.Properties.Volumes[0].Secret; len(files) != 2 || files["added"] != nil || !hasKey(files, "app.conf") {
		t.Errorf("answered files %v, want app.conf and added without contents", files)
	}
	if got := h.runtimeSecret(uid, "config"); !reflect.DeepEqual(got, refreshedFiles) {
		t.Errorf("runtime files %q, want %q", got, refreshedFiles)
	}
	if h.rt.Runs() != runs || h.operations() != ops || h.usageRows(uid) != usage || h.rt.VolumeUpdates() != 1 {
		t.Errorf("runs %d→%d, operations %d→%d, usage %q→%q, volume updates %d", runs, h.rt.Runs(),
			ops, h.operations(), usage, h.usageRows(uid), h.rt.VolumeUpdates())
	}
	h.sync()
	if c := h.mustGet(ref).Properties.Containers[0].Properties.InstanceView; *c.RestartCount != 0 {
		t.Errorf("restart count %d after a refresh", *c.RestartCount)
	}
	recs, err := h.st.Groups(h.ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %v, %v", recs, err)
	}
	for _, secret := range []string{"refreshed-contents", *b64("refreshed-contents")} {
		if bytes.Contains(recs[0].Spec, []byte(secret)) || bytes.Contains(recs[0].Secrets, []byte(secret)) {
			t.Errorf("the stored record holds %q unsealed", secret)
		}
	}

	h.s.Close()
	h.s = h.open()
	h.s.mu.Lock()
	stored := h.s.groups[ref.key()].secrets.SecretVolumes["config"]
	h.s.mu.Unlock()
	want := map[string]string{"app.conf": *b64("refreshed-contents"), "added": *b64("added-contents")}
	if !reflect.DeepEqual(stored, want) {
		t.Errorf("secrets after a restart of the service %v, want %v", stored, want)
	}
	if err := h.s.Stop(h.ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Start(h.ctx, ref); err != nil {
		t.Fatal(err)
	}
	h.waitSettled(ref)
	if got := h.runtimeSecret(uid, "config"); !reflect.DeepEqual(got, refreshedFiles) {
		t.Errorf("files of the redeployed group %q, want %q", got, refreshedFiles)
	}
}

func hasKey(m map[string]*string, k string) bool {
	_, ok := m[k]
	return ok
}

func (h *harness) mustGet(ref Ref) *aci.ContainerGroup {
	h.t.Helper()
	g, err := h.s.Get(ref)
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

// A stopped group keeps the refreshed files for its next deployment; the
// runtime is not asked.
func TestRefreshVolumesOfStoppedGroup(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "stopped"}
	h.mustPut(ref, secretBody())
	if err := h.s.Stop(h.ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.RefreshVolumes(h.ctx, ref, refreshedConfig(), nil); err != nil {
		t.Fatal(err)
	}
	if h.rt.VolumeUpdates() != 0 {
		t.Error("the runtime was asked to update a stopped group")
	}
	if st := h.state(ref); st != StateStopped {
		t.Errorf("state %s after the refresh, want Stopped", st)
	}
	if _, err := h.s.Start(h.ctx, ref); err != nil {
		t.Fatal(err)
	}
	h.waitSettled(ref)
	if got := h.runtimeSecret(h.uid(ref), "config"); !reflect.DeepEqual(got, refreshedFiles) {
		t.Errorf("files of the started group %q, want %q", got, refreshedFiles)
	}
}

// gatedRuntime holds every Run until gate is closed.
type gatedRuntime struct {
	*tapRuntime
	gate chan struct{}
}

func (r *gatedRuntime) Run(ctx context.Context, spec runtime.GroupSpec) error {
	select {
	case <-r.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.tapRuntime.Run(ctx, spec)
}

func TestRefreshVolumesRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.s.Close()
	gate := make(chan struct{})
	h.s = h.openOn(&gatedRuntime{tapRuntime: h.tap, gate: gate})
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "grp"}

	_, err := h.s.RefreshVolumes(h.ctx, ref, refreshedConfig(), nil)
	wantARM(t, err, http.StatusNotFound, "ResourceNotFound", "")

	if _, err := h.s.CreateOrUpdate(h.ctx, ref, secretBody(), wire.GroupExtensions{}); err != nil {
		t.Fatal(err)
	}
	_, err = h.s.RefreshVolumes(h.ctx, ref, refreshedConfig(), nil)
	wantARM(t, err, http.StatusConflict, "AnotherOperationInProgress", "")
	close(gate)
	h.waitSettled(ref)

	share := []*aci.Volume{{Name: to.Ptr("datashare"), Secret: map[string]*string{"a": b64("x")}}}
	_, err = h.s.RefreshVolumes(h.ctx, ref, share, nil)
	wantARM(t, err, http.StatusBadRequest, validate.CodeInvalidVolume, "volumes[0]")
	noSecret := []*aci.Volume{refreshedConfig()[0], {Name: to.Ptr("config")}}
	_, err = h.s.RefreshVolumes(h.ctx, ref, noSecret, nil)
	wantARM(t, err, http.StatusBadRequest, validate.CodeInvalidVolume, "volumes[1].secret")
	if h.rt.VolumeUpdates() != 0 {
		t.Error("a refused refresh reached the runtime")
	}
	h.s.mu.Lock()
	files := h.s.groups[ref.key()].secrets.SecretVolumes["config"]
	h.s.mu.Unlock()
	if _, ok := files["app.conf"]; !ok || len(files) != 2 {
		t.Errorf("a refused refresh changed the secrets: %v", files)
	}
}

// Variables filled from the group get its IP; the hostname, FQDN, host
// aliases and args reach the runtime; changing them redeploys the group.
func TestGroupAdditionsReachTheRuntime(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "db"}
	body := func() *aci.ContainerGroup {
		b := groupBody("local", "", 1, 1, "a")
		c := b.Properties.Containers[0].Properties
		c.EnvironmentVariables = append(c.EnvironmentVariables, &aci.EnvironmentVariable{Name: to.Ptr("POD_IP")})
		return b
	}
	ext := wire.GroupExtensions{
		FieldEnv:    map[string][]wire.FieldEnv{"main": {{Name: "POD_IP", FieldPath: wire.FieldPodIP}}},
		Hostname:    "db-0",
		FQDN:        "db-0.db.default.svc.cluster.local",
		HostAliases: []wire.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local"}}},
		Args:        map[string][]string{"main": {"--port", "80"}},
	}
	if _, err := h.s.CreateOrUpdate(h.ctx, ref, body(), ext); err != nil {
		t.Fatal(err)
	}
	h.waitSettled(ref)
	ip := *h.mustGet(ref).Properties.IPAddress.IP
	var out bytes.Buffer
	if _, err := h.rt.Exec(h.ctx, h.uid(ref), "main", []string{"env"}, runtime.Streams{Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "POD_IP="+ip+"\n") {
		t.Errorf("env %q lacks POD_IP=%s", out.String(), ip)
	}
	if got := h.s.Additions(ref).GroupExtensions; !got.Equal(ext) {
		t.Errorf("additions %+v, want %+v", got, ext)
	}

	h.s.mu.Lock()
	g := h.s.groups[ref.key()]
	spec, err := runtimeSpec(g.uid, g.name, "", g.spec, g.secrets, g.ext)
	h.s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Hostname != "db-0" || spec.FQDN != ext.FQDN ||
		!reflect.DeepEqual(spec.HostAliases, []runtime.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"foo.local"}}}) ||
		spec.Containers[0].Env[1] != (runtime.EnvVar{Name: "POD_IP", FromField: runtime.FieldPodIP}) ||
		!reflect.DeepEqual(spec.Containers[0].Args, []string{"--port", "80"}) {
		t.Errorf("runtime spec %+v", spec)
	}

	runs := h.rt.Runs()
	ext.Hostname = "db-1"
	res, err := h.s.CreateOrUpdate(h.ctx, ref, body(), ext)
	if err != nil || res.Operation == nil {
		t.Fatalf("a new hostname: %v, operation %v", err, res)
	}
	h.waitSettled(ref)
	if h.rt.Runs() != runs+1 {
		t.Errorf("runs %d, want %d: a new hostname redeploys", h.rt.Runs(), runs+1)
	}
}

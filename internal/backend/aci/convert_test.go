package aci

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

func testPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "uid-1"},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

func testOptions() convertOptions {
	return convertOptions{location: "local", node: "vn", limits: Limits{MinCPU: 1, MinMemoryGB: 1, MaxCPU: 4, MaxMemoryGB: 16},
		now: time.Unix(1700000000, 0)}
}

func resources(req, lim map[corev1.ResourceName]string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{}
	conv := func(m map[corev1.ResourceName]string) corev1.ResourceList {
		if m == nil {
			return nil
		}
		out := corev1.ResourceList{}
		for k, v := range m {
			out[k] = resource.MustParse(v)
		}
		return out
	}
	r.Requests, r.Limits = conv(req), conv(lim)
	return r
}

func TestConvertResources(t *testing.T) {
	tests := []struct {
		name               string
		ctrs               []corev1.Container
		wantCPU, wantMem   []float64
		wantLCPU, wantLMem []float64
		wantErr            string
	}{
		{name: "none: raised to the group minimum", ctrs: []corev1.Container{{Name: "a"}},
			wantCPU: []float64{1}, wantMem: []float64{1}, wantLCPU: []float64{1}, wantLMem: []float64{1}},
		{name: "rounded up", ctrs: []corev1.Container{{Name: "a", Resources: resources(map[corev1.ResourceName]string{"cpu": "1234m", "memory": "1Gi"}, nil)}},
			wantCPU: []float64{1.24}, wantMem: []float64{1.1}, wantLCPU: []float64{1.24}, wantLMem: []float64{1.1}},
		{name: "two containers, minimum on the first", ctrs: []corev1.Container{
			{Name: "a", Resources: resources(map[corev1.ResourceName]string{"cpu": "250m", "memory": "256Mi"}, nil)},
			{Name: "b", Resources: resources(map[corev1.ResourceName]string{"cpu": "250m", "memory": "256Mi"}, nil)}},
			wantCPU: []float64{0.75, 0.25}, wantMem: []float64{0.7, 0.3}, wantLCPU: []float64{1, 1}, wantLMem: []float64{1, 1}},
		{name: "limit above the group total is clamped", ctrs: []corev1.Container{{Name: "a",
			Resources: resources(map[corev1.ResourceName]string{"cpu": "1", "memory": "1G"}, map[corev1.ResourceName]string{"cpu": "3", "memory": "2G"})}},
			wantCPU: []float64{1}, wantMem: []float64{1}, wantLCPU: []float64{1}, wantLMem: []float64{1}},
		{name: "limit only", ctrs: []corev1.Container{{Name: "a", Resources: resources(nil, map[corev1.ResourceName]string{"cpu": "2", "memory": "3G"})}},
			wantCPU: []float64{2}, wantMem: []float64{3}, wantLCPU: []float64{2}, wantLMem: []float64{3}},
		{name: "over the capabilities", ctrs: []corev1.Container{{Name: "a", Resources: resources(map[corev1.ResourceName]string{"cpu": "5"}, nil)}},
			wantErr: "maxCpu"},
		{name: "over the memory capability", ctrs: []corev1.Container{{Name: "a", Resources: resources(map[corev1.ResourceName]string{"memory": "17G"}, nil)}},
			wantErr: "maxMemoryInGB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.ctrs {
				tt.ctrs[i].Image = "img"
			}
			s, err := convert(&backend.Workload{Pod: testPod(tt.ctrs...)}, testOptions())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range s.group.Properties.Containers {
				r := c.Properties.Resources
				got := []float64{*r.Requests.CPU, *r.Requests.MemoryInGB, *r.Limits.CPU, *r.Limits.MemoryInGB}
				want := []float64{tt.wantCPU[i], tt.wantMem[i], tt.wantLCPU[i], tt.wantLMem[i]}
				for j := range got {
					if diff := got[j] - want[j]; diff > 1e-9 || diff < -1e-9 {
						t.Errorf("container %d: requests/limits = %v, want %v", i, got, want)
						break
					}
				}
			}
		})
	}
}

func TestConvertContainer(t *testing.T) {
	pod := testPod(corev1.Container{Name: "main", Image: "nginx", Command: []string{"sh", "-c"}, Args: []string{"echo $(GREETING) $$(X)"},
		Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
		VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}, {Name: "scratch", MountPath: "/tmp/s"}},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
			PeriodSeconds: 5},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}},
	})
	pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	w := &backend.Workload{Pod: pod,
		Env:                 map[string][]backend.EnvVar{"main": {{Name: "GREETING", Value: "hi"}, {Name: "TOKEN", Value: "s3cret", Secret: true}}},
		Volumes:             map[string][]backend.File{"cfg": {{Path: "app.conf", Data: []byte("a=1"), Mode: 0o644}, {Path: "sub/dir/x", Data: []byte("x"), Mode: 0o644}}},
		RegistryCredentials: []backend.RegistryCredential{{Server: "r.io", Username: "u", Password: "p"}},
	}
	for _, tcp := range []bool{false, true} {
		o := testOptions()
		o.tcpSocket = tcp
		s, err := convert(w, o)
		if err != nil {
			t.Fatal(err)
		}
		p := s.group.Properties
		c := p.Containers[0].Properties
		var cmd []string
		for _, a := range c.Command {
			cmd = append(cmd, *a)
		}
		if got := strings.Join(cmd, "|"); got != "sh|-c|echo hi $(X)" {
			t.Errorf("command = %q", got)
		}
		if e := c.EnvironmentVariables; *e[0].Value != "hi" || e[1].Value != nil || *e[1].SecureValue != "s3cret" {
			t.Errorf("env not converted with secure values")
		}
		if len(p.IPAddress.Ports) != 2 || *p.RestartPolicy != "OnFailure" {
			t.Errorf("ports or restart policy wrong")
		}
		if c.LivenessProbe == nil || *c.LivenessProbe.HTTPGet.Port != 80 || *c.LivenessProbe.PeriodSeconds != 5 {
			t.Errorf("httpGet probe not converted: %+v", c.LivenessProbe)
		}
		if tcp != (s.ext.Probes["main"].Readiness != nil) || tcp == (len(s.warnings) > 0) {
			t.Errorf("tcpSocket=%v: additions %+v, warnings %v", tcp, s.ext.Probes, s.warnings)
		}
		if len(p.Volumes) != 3 || len(c.VolumeMounts) != 3 {
			t.Fatalf("volumes %d, mounts %d; want 3 and 3", len(p.Volumes), len(c.VolumeMounts))
		}
		files := map[string]string{}
		for _, v := range p.Volumes {
			for k, data := range v.Secret {
				raw, _ := base64.StdEncoding.DecodeString(*data)
				files[k] = string(raw)
			}
		}
		if files["app.conf"] != "a=1" || files["x"] != "x" {
			t.Errorf("secret volume files = %v", files)
		}
		if *c.VolumeMounts[1].MountPath != "/etc/cfg/sub/dir" {
			t.Errorf("nested directory mounted at %s", *c.VolumeMounts[1].MountPath)
		}
		if *p.ImageRegistryCredentials[0].Password != "p" {
			t.Errorf("registry credentials lost")
		}
		if tag(s.group.Tags, TagUID) != "uid-1" || tag(s.group.Tags, TagNodeName) != "vn" {
			t.Errorf("tags = %v", s.group.Tags)
		}
	}
}

func TestConvertRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"hostPath", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		}, `volume "host" has type hostPath`},
		{"pvc", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}}}
		}, `volume "data" has type persistentVolumeClaim`},
		{"args without command nor a known entrypoint", func(p *corev1.Pod) { p.Spec.Containers[0].Args = []string{"x"} },
			"entrypoint of its image"},
		{"subPath", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "a"}}
		}, "subPath"},
		{"sctp", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 1, Protocol: corev1.ProtocolSCTP}}
		}, "SCTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod(corev1.Container{Name: "main", Image: "img"})
			tt.mutate(pod)
			_, err := convert(&backend.Workload{Pod: pod}, testOptions())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestDNSConfig(t *testing.T) {
	pod := testPod()
	if dnsConfig(pod, DNS{}) != nil {
		t.Errorf("ClusterFirst without cluster DNS should leave ACI's resolver")
	}
	got := dnsConfig(pod, DNS{Servers: []string{"10.0.0.10"}})
	if *got.NameServers[0] != "10.0.0.10" || *got.SearchDomains != "default.svc.cluster.local svc.cluster.local cluster.local" || *got.Options != "ndots:5" {
		t.Errorf("ClusterFirst: %+v", got)
	}
	pod.Spec.DNSPolicy = corev1.DNSNone
	pod.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.b"}}
	got = dnsConfig(pod, DNS{Servers: []string{"10.0.0.10"}})
	if len(got.NameServers) != 1 || *got.NameServers[0] != "1.1.1.1" || *got.SearchDomains != "a.b" {
		t.Errorf("None: %+v", got)
	}
}

// With the service's extensions, the pod's hostname, FQDN, host aliases
// and IP variables travel as additions; without them the aliases are
// dropped with a warning and the variables keep the value resolved.
func TestConvertHostsAndFieldEnv(t *testing.T) {
	pod := testPod(corev1.Container{Name: "main", Image: "img"})
	pod.Name, pod.Namespace = "web-0", "shop"
	pod.Spec.Subdomain = "web"
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db.local"}}}
	w := &backend.Workload{Pod: pod, Env: map[string][]backend.EnvVar{"main": {
		{Name: "A", Value: "1"}, {Name: "IP", FieldPath: "status.podIP"}}}}

	o := testOptions()
	o.hosts, o.fieldEnv, o.dns = true, true, DNS{Domain: "example.org"}
	s, err := convert(w, o)
	if err != nil {
		t.Fatal(err)
	}
	want := wire.GroupExtensions{
		FieldEnv:    map[string][]wire.FieldEnv{"main": {{Name: "IP", FieldPath: "status.podIP"}}},
		Hostname:    "web-0",
		FQDN:        "web-0.web.shop.svc.example.org",
		HostAliases: []wire.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db.local"}}},
	}
	if !s.ext.Equal(want) {
		t.Errorf("additions = %+v, want %+v", s.ext, want)
	}
	env := s.group.Properties.Containers[0].Properties.EnvironmentVariables
	if len(env) != 2 || *env[1].Name != "IP" || env[1].Value != nil {
		t.Errorf("the IP variable should be left for the service: %+v", env[1])
	}

	s, err = convert(w, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !s.ext.IsZero() || len(s.warnings) != 1 || !strings.Contains(s.warnings[0], "hostAliases") {
		t.Errorf("without extensions: additions %+v, warnings %v", s.ext, s.warnings)
	}
	if env := s.group.Properties.Containers[0].Properties.EnvironmentVariables; env[1].Value == nil {
		t.Errorf("without field-env the variable keeps its resolved value")
	}
}

func TestPodHostname(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	for _, tc := range []struct {
		name, hostname, subdomain string
		asFQDN                    bool
		wantHost, wantFQDN        string
	}{
		{name: "web", wantHost: "web"},
		{name: "web", hostname: "front", wantHost: "front"},
		{name: long, wantHost: strings.Repeat("a", 62)},
		{name: "web-0", subdomain: "web", wantHost: "web-0", wantFQDN: "web-0.web.ns.svc.cluster.local"},
		{name: "web-0", subdomain: "web", asFQDN: true, wantHost: "web-0.web.ns.svc.cluster.local", wantFQDN: "web-0.web.ns.svc.cluster.local"},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "ns"},
			Spec: corev1.PodSpec{Hostname: tc.hostname, Subdomain: tc.subdomain, SetHostnameAsFQDN: &tc.asFQDN}}
		host, fqdn := podHostname(pod, "cluster.local")
		if host != tc.wantHost || fqdn != tc.wantFQDN {
			t.Errorf("%s/%s/%s: got %q %q, want %q %q", tc.name, tc.hostname, tc.subdomain, host, fqdn, tc.wantHost, tc.wantFQDN)
		}
	}
}

// Command and args run as on a kubelet: with the service's container-args
// extension apart, else as one ACI command with the image's entrypoint
// (read from its registry) before args that come without a command.
func TestConvertCommandAndArgs(t *testing.T) {
	env := []backend.EnvVar{{Name: "MSG", Value: "hi"}}
	pod := testPod(
		corev1.Container{Name: "neither", Image: "hello"},
		corev1.Container{Name: "command", Image: "shell", Command: []string{"/bin/echo", "$(MSG)"}},
		corev1.Container{Name: "both", Image: "shell", Command: []string{"/bin/sh", "-c"}, Args: []string{"echo $(MSG) $$(MSG)"}},
		corev1.Container{Name: "args", Image: "shell", Args: []string{"-c", "echo $(MSG)"}},
		corev1.Container{Name: "bare", Image: "scratch-app", Args: []string{"/app", "$(MSG)"}},
	)
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "shell", Args: []string{"-c", "echo $(MSG)"}}}
	w := &backend.Workload{Pod: pod, Env: map[string][]backend.EnvVar{}}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		w.Env[c.Name] = env
	}
	strs := func(ps []*string) []string {
		var out []string
		for _, p := range ps {
			out = append(out, *p)
		}
		return out
	}
	type want struct{ command, args []string }
	for _, tt := range []struct {
		name          string
		containerArgs bool
		entrypoints   map[string][]string
		want          map[string]want
	}{
		{"with container-args", true, nil, map[string]want{
			"neither": {},
			"command": {command: []string{"/bin/echo", "hi"}},
			"both":    {command: []string{"/bin/sh", "-c"}, args: []string{"echo hi $(MSG)"}},
			"args":    {args: []string{"-c", "echo hi"}},
			"bare":    {args: []string{"/app", "hi"}},
			"init":    {args: []string{"-c", "echo hi"}},
		}},
		{"without: the image's entrypoint from its registry", false,
			map[string][]string{"args": {"/bin/sh"}, "init": {"/bin/sh"}, "bare": nil}, map[string]want{
				"neither": {},
				"command": {command: []string{"/bin/echo", "hi"}},
				"both":    {command: []string{"/bin/sh", "-c", "echo hi $(MSG)"}},
				"args":    {command: []string{"/bin/sh", "-c", "echo hi"}},
				"bare":    {command: []string{"/app", "hi"}},
				"init":    {command: []string{"/bin/sh", "-c", "echo hi"}},
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions()
			o.containerArgs, o.entrypoints = tt.containerArgs, tt.entrypoints
			s, err := convert(w, o)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]want{}
			for _, c := range s.group.Properties.Containers {
				got[*c.Name] = want{command: strs(c.Properties.Command), args: s.ext.Args[*c.Name]}
			}
			for _, c := range s.group.Properties.InitContainers {
				got[*c.Name] = want{command: strs(c.Properties.Command), args: s.ext.Args[*c.Name]}
			}
			for name, wc := range tt.want {
				if g := got[name]; !reflect.DeepEqual(g, wc) {
					t.Errorf("%s: command %q args %q, want %q and %q", name, g.command, g.args, wc.command, wc.args)
				}
			}
			if !tt.containerArgs && s.ext.Args != nil {
				t.Errorf("args in the additions without the extension: %v", s.ext.Args)
			}
		})
	}
}

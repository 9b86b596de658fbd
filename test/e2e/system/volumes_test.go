package system

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

// Volumes as a kubelet gives them: the modes of defaultMode and items'
// mode (a 0755 script runs), fsGroup owning the files and directories of
// ConfigMap, Secret and emptyDir volumes and among the container's groups,
// emptyDir directories of mode 0777 (02777 with the fsGroup), medium
// Memory a tmpfs of its sizeLimit in /proc/mounts, a ConfigMap key mounted
// as a file by subPath, an emptyDir directory by subPathExpr from an
// environment variable, and downward-API labels that follow `kubectl
// label`.
func TestVolumeFiles(t *testing.T) {
	ns := namespace(t)
	createObject(t, env.Client.CoreV1().ConfigMaps(ns).Create, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Data: map[string]string{"run.sh": "#!/bin/sh\necho script ran\n", "config.yaml": "key: value\n"}})
	createObject(t, env.Client.CoreV1().Secrets(ns).Create, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data: map[string][]byte{"password": []byte("s3cret")}})
	c := shell("main", "trap 'exit 0' TERM; while true; do sleep 1; done")
	c.Env = []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	c.VolumeMounts = []corev1.VolumeMount{
		{Name: "app", MountPath: "/app"},
		{Name: "app", MountPath: "/etc/app/config.yaml", SubPath: "config.yaml"},
		{Name: "creds", MountPath: "/creds"},
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "scratch", MountPath: "/logs", SubPathExpr: "logs/$(POD_NAME)"},
		{Name: "mem", MountPath: "/mem"},
		{Name: "podinfo", MountPath: "/podinfo"},
	}
	pod := virtualPod("files", c)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To[int64](2000)}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "app", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app"}, DefaultMode: ptr.To[int32](0o440),
			Items: []corev1.KeyToPath{{Key: "run.sh", Path: "run.sh", Mode: ptr.To[int32](0o755)}, {Key: "config.yaml", Path: "config.yaml"}}}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds",
			DefaultMode: ptr.To[int32](0o400)}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: resourceQuantity("16Mi")}}},
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
	}
	createPod(t, ns, pod)
	waitPod(t, ns, "files", "Running", 3*time.Minute, running)

	if got := execIn(t, ns, "files", "/app/run.sh"); got != "script ran\n" {
		t.Errorf("the 0755 script printed %q", got)
	}
	stat := execIn(t, ns, "files", "stat", "-L", "-c", "%n %a %g", "/app/run.sh", "/app/config.yaml", "/creds/password",
		"/scratch", "/mem", "/etc/app/config.yaml")
	want := "/app/run.sh 755 2000\n/app/config.yaml 440 2000\n/creds/password 440 2000\n/scratch 2777 2000\n" +
		"/mem 2777 2000\n/etc/app/config.yaml 440 2000\n"
	if stat != want {
		t.Errorf("modes and groups:\n%s\nwant\n%s", stat, want)
	}
	if got := execIn(t, ns, "files", "cat", "/etc/app/config.yaml"); got != "key: value\n" {
		t.Errorf("the subPath file reads %q", got)
	}
	if groups := strings.Fields(execIn(t, ns, "files", "id", "-G")); !containsString(groups, "2000") {
		t.Errorf("groups %q lack the fsGroup", groups)
	}
	mounts := execIn(t, ns, "files", "grep", " /mem ", "/proc/mounts")
	if f := strings.Fields(mounts); len(f) < 4 || f[0] != "tmpfs" || f[2] != "tmpfs" ||
		!strings.Contains(f[3], "nosuid") || !strings.Contains(f[3], "nodev") {
		t.Errorf("/proc/mounts shows /mem as %q, want a tmpfs, nosuid and nodev", mounts)
	}
	if size := execIn(t, ns, "files", "sh", "-c", "df -k /mem | tail -1 | awk '{print $2}'"); strings.TrimSpace(size) != "16384" {
		t.Errorf("the memory volume has %s KiB, want its sizeLimit of 16384", size)
	}
	if got := execIn(t, ns, "files", "sh", "-c", "touch /logs/app.log && ls /scratch/logs/files"); got != "app.log\n" {
		t.Errorf("the subPathExpr directory holds %q, want app.log", got)
	}
	if got := execIn(t, ns, "files", "cat", "/podinfo/labels"); !strings.Contains(got, `app="files"`) {
		t.Errorf("labels file %q", got)
	}
	mustKubectl(t, nil, "label", "pod", "-n", ns, "files", "color=blue")
	var last string
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(last, `color="blue"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the labels file still reads %q after kubectl label", last)
		}
		last = execIn(t, ns, "files", "cat", "/podinfo/labels")
		time.Sleep(time.Second)
	}
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// A subPathExpr that names a missing annotation, or expands to an absolute
// path, makes the container wait with CreateContainerConfigError as on a
// kubelet; once the annotation is set, the pod runs, its emptyDir and the
// subPath directory created in it of mode 0777.
func TestSubPathExprFailures(t *testing.T) {
	ns := namespace(t)
	volumes := []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	abs := shell("main", "sleep 3600")
	abs.Env = []corev1.EnvVar{{Name: "POD_NAME", Value: "/tmp"}}
	abs.VolumeMounts = []corev1.VolumeMount{{Name: "work", MountPath: "/logs", SubPathExpr: "$(POD_NAME)"}}
	absPod := virtualPod("absolute", abs)
	absPod.Spec.Volumes = volumes
	createPod(t, ns, absPod)

	late := shell("main", "trap 'exit 0' TERM; while true; do sleep 1; done")
	late.Env = []corev1.EnvVar{{Name: "POD_NAME", Value: "foo"}, {Name: "ANNOTATION", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['mysubpath']"}}}}
	late.VolumeMounts = []corev1.VolumeMount{{Name: "work", MountPath: "/subpath_mount", SubPathExpr: "$(ANNOTATION)/$(POD_NAME)"},
		{Name: "work", MountPath: "/volume_mount"}}
	latePod := virtualPod("late", late)
	latePod.Spec.Volumes = volumes
	createPod(t, ns, latePod)

	for name, msg := range map[string]string{"absolute": "must not be an absolute path", "late": "missing value for ANNOTATION"} {
		waitPod(t, ns, name, "waiting with CreateContainerConfigError", 2*time.Minute, func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerConfigError" &&
				strings.Contains(cs[0].State.Waiting.Message, msg)
		})
	}
	mustKubectl(t, nil, "annotate", "pod", "-n", ns, "late", "mysubpath=mypath")
	waitPod(t, ns, "late", "Running", 2*time.Minute, running)
	execIn(t, ns, "late", "touch", "/volume_mount/mypath/foo/test.log")
	execIn(t, ns, "late", "test", "-f", "/subpath_mount/test.log")
	// Without an fsGroup an emptyDir is 0777, and so is the subPath directory made in it.
	if got := execIn(t, ns, "late", "stat", "-c", "%a", "/volume_mount", "/subpath_mount"); got != "777\n777\n" {
		t.Errorf("emptyDir and subPath directory modes %q, want 777 both", got)
	}
	p, err := env.Client.CoreV1().Pods(ns).Get(context.Background(), "absolute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("the absolute subPathExpr pod is %s, want it Pending still", p.Status.Phase)
	}
}

// A container that links "/" into an emptyDir cannot make a later
// container see the host through a subPath of the link
// (CVE-2017-1002101): the container waits with CreateContainerConfigError,
// saying the subPath leaves its volume.
func TestSubPathSymlinkEscape(t *testing.T) {
	ns := namespace(t)
	main := shell("main", "ls /host; sleep 3600")
	main.VolumeMounts = []corev1.VolumeMount{{Name: "work", MountPath: "/host", SubPath: "escape"}}
	pod := virtualPod("escape", main)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	plant := shell("plant", "ln -s / /work/escape")
	plant.VolumeMounts = []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}
	pod.Spec.InitContainers = []corev1.Container{plant}
	pod.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	createPod(t, ns, pod)
	p := waitPod(t, ns, "escape", "refused", 3*time.Minute, func(p *corev1.Pod) bool {
		return strings.Contains(p.Status.Message+containerSummary(p), "resolves outside the volume")
	})
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running != nil || c.RestartCount > 0 {
			t.Errorf("the container ran: %s", containerSummary(p))
		}
	}
	if out := kubectl(t, nil, "logs", "-n", ns, "escape", "-c", "main"); strings.Contains(out.stdout, "etc") {
		t.Errorf("the container listed the host's root: %s", out)
	}
}

// Item paths with directories, as the suite's "volume with mappings"
// tests use: a ConfigMap item at path/to/data-2 (mode 0400) beside a
// top-level item, and a projected volume mixing a ConfigMap and a Secret
// in nested directories, read by a non-root container with an fsGroup; a
// subPath of a nested directory; and a ConfigMap update that the running
// container sees in both volumes without a restart.
func TestNestedItemPaths(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	createObject(t, env.Client.CoreV1().ConfigMaps(ns).Create, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data: map[string]string{"data-1": "value-1", "data-2": "value-2"}})
	createObject(t, env.Client.CoreV1().Secrets(ns).Create, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data: map[string][]byte{"password": []byte("s3cret")}})
	c := shell("main", "trap 'exit 0' TERM; while true; do sleep 1; done")
	c.VolumeMounts = []corev1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/cfg"},
		{Name: "all", MountPath: "/etc/all"},
		{Name: "cfg", MountPath: "/etc/to", SubPath: "path/to"},
	}
	pod := virtualPod("nested", c)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000), FSGroup: ptr.To[int64](1001)}
	cfgSource := corev1.LocalObjectReference{Name: "cfg"}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: cfgSource,
			Items: []corev1.KeyToPath{{Key: "data-1", Path: "data-1"}, {Key: "data-2", Path: "path/to/data-2", Mode: ptr.To[int32](0o400)}}}}},
		{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cfgSource,
				Items: []corev1.KeyToPath{{Key: "data-2", Path: "config/deep/data-2"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"},
				Items: []corev1.KeyToPath{{Key: "password", Path: "secret/password"}}}},
		}}}},
	}
	createPod(t, ns, pod)
	started := waitPod(t, ns, "nested", "Running", 3*time.Minute, running).Status.ContainerStatuses[0].State.Running.StartedAt

	got := execIn(t, ns, "nested", "sh", "-c", "cat /etc/cfg/data-1 /etc/cfg/path/to/data-2 /etc/all/config/deep/data-2 "+
		"/etc/all/secret/password /etc/to/data-2")
	if want := "value-1value-2value-2s3cretvalue-2"; got != want {
		t.Errorf("the nested files read %q, want %q", got, want)
	}
	stat := execIn(t, ns, "nested", "stat", "-L", "-c", "%n %a %g", "/etc/cfg/path/to/data-2", "/etc/cfg/path/to")
	if want := "/etc/cfg/path/to/data-2 440 1001\n/etc/cfg/path/to 2755 1001\n"; stat != want {
		t.Errorf("modes and groups:\n%s\nwant\n%s", stat, want)
	}

	cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, "cfg", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["data-2"] = "value-2b"
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the new nested content in the running container", time.Minute, func() (bool, error) {
		got := execIn(t, ns, "nested", "sh", "-c", "cat /etc/cfg/path/to/data-2 /etc/all/config/deep/data-2")
		return got == "value-2bvalue-2b", fmt.Errorf("nested files %q", got)
	})
	p, err := env.Client.CoreV1().Pods(ns).Get(ctx, "nested", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || cs.State.Running == nil || !cs.State.Running.StartedAt.Equal(&started) {
		t.Errorf("the container restarted: %s", containerSummary(p))
	}
}

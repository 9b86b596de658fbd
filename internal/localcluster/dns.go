package localcluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	nodectl "github.com/vnode-io/vnode/internal/node"
)

// The cluster DNS add-on's names, as kubeadm and AKS name theirs.
const (
	dnsName        = "coredns"
	dnsServiceName = "kube-dns"
	dnsAppLabel    = "kube-dns"
	dnsNamespace   = metav1.NamespaceSystem
)

// clusterDNSIP is the kube-dns Service's address: the tenth of the
// Service range (10.0.0.10 in 10.0.0.0/16), as in AKS and kubeadm.
func clusterDNSIP(serviceCIDR string) (net.IP, error) { return nthServiceIP(serviceCIDR, 10) }

// corefile is CoreDNS's configuration: cluster names from the API, the
// rest forwarded to the resolver of the host (the DNS pod's dnsPolicy is
// Default), answers cached.
func corefile(domain string) string {
	return strings.Join([]string{
		".:53 {",
		"    errors",
		"    health {",
		"        lameduck 5s",
		"    }",
		"    ready",
		"    kubernetes " + domain + " in-addr.arpa ip6.arpa {",
		"        pods insecure",
		"        fallthrough in-addr.arpa ip6.arpa",
		"        ttl 30",
		"    }",
		"    prometheus :9153",
		"    forward . /etc/resolv.conf {",
		"        max_concurrent 1000",
		"    }",
		"    cache 30",
		"    loop",
		"    reload",
		"    loadbalance",
		"}",
		"",
	}, "\n")
}

// dnsObjects are the add-on's objects: CoreDNS's service account and
// read-only role, its Corefile, a Deployment that runs on the virtual node
// itself, and the kube-dns Service at ip.
type dnsObjects struct {
	account    *corev1.ServiceAccount
	role       *rbacv1.ClusterRole
	binding    *rbacv1.ClusterRoleBinding
	config     *corev1.ConfigMap
	deployment *appsv1.Deployment
	service    *corev1.Service
}

func newDNSObjects(image, domain string, ip net.IP) dnsObjects {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: dnsNamespace, Labels: map[string]string{"k8s-app": dnsAppLabel}}
	}
	list := []string{"list", "watch"}
	labels := map[string]string{"k8s-app": dnsAppLabel}
	taint := nodectl.DefaultTaint()
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	return dnsObjects{
		account: &corev1.ServiceAccount{ObjectMeta: meta(dnsName)},
		role: &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: list},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: list},
		}},
		binding: &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:coredns"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: dnsName, Namespace: dnsNamespace}}},
		config: &corev1.ConfigMap{ObjectMeta: meta(dnsName), Data: map[string]string{"Corefile": corefile(domain)}},
		deployment: &appsv1.Deployment{ObjectMeta: meta(dnsName), Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				ServiceAccountName: dnsName,
				PriorityClassName:  "system-cluster-critical",
				DNSPolicy:          corev1.DNSDefault,
				NodeSelector:       map[string]string{"type": "virtual-kubelet"},
				Tolerations: []corev1.Toleration{{Key: taint.Key, Operator: corev1.TolerationOpExists},
					{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{
					Name:    dnsName,
					Image:   image,
					Command: []string{"/coredns", "-conf", "/etc/coredns/Corefile"},
					Ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: udp},
						{Name: "dns-tcp", ContainerPort: 53, Protocol: tcp}, {Name: "metrics", ContainerPort: 9153, Protocol: tcp}},
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("70Mi")},
						Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("170Mi")},
					},
					VolumeMounts: []corev1.VolumeMount{{Name: "config-volume", MountPath: "/etc/coredns", ReadOnly: true}},
					LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/health", Port: intstr.FromInt32(8080)}}, InitialDelaySeconds: 60, PeriodSeconds: 10, FailureThreshold: 5, TimeoutSeconds: 5},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/ready", Port: intstr.FromInt32(8181)}}, PeriodSeconds: 1, TimeoutSeconds: 1},
				}},
				Volumes: []corev1.Volume{{Name: "config-volume", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: dnsName},
					Items:                []corev1.KeyToPath{{Key: "Corefile", Path: "Corefile"}}}}}},
			}},
		}},
		service: &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: dnsServiceName, Namespace: dnsNamespace,
				Labels: map[string]string{"k8s-app": dnsAppLabel, "kubernetes.io/name": "CoreDNS"}},
			Spec: corev1.ServiceSpec{ClusterIP: ip.String(), Selector: labels, Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: udp, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: tcp, TargetPort: intstr.FromInt32(53)},
				{Name: "metrics", Port: 9153, Protocol: tcp, TargetPort: intstr.FromInt32(9153)}}},
		},
	}
}

// deployDNS creates or updates the cluster DNS add-on and waits until
// CoreDNS answers (its Deployment has an available replica).
func deployDNS(ctx context.Context, c *Cluster) error {
	began := time.Now()
	cfg := c.cfg
	ip, err := clusterDNSIP(cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	regs, err := ReadRegistries(c.layout.root)
	if err != nil {
		return err
	}
	client, err := c.client()
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	o := newDNSObjects(regs.Images.CoreDNS, cfg.ClusterDomain, ip)
	steps := []func() error{
		func() error {
			return apply(ctx, client.CoreV1().ServiceAccounts(dnsNamespace), o.account, func(cur, want *corev1.ServiceAccount) {})
		},
		func() error {
			return apply(ctx, client.RbacV1().ClusterRoles(), o.role, func(cur, want *rbacv1.ClusterRole) { cur.Rules = want.Rules })
		},
		func() error {
			return apply(ctx, client.RbacV1().ClusterRoleBindings(), o.binding, func(cur, want *rbacv1.ClusterRoleBinding) { cur.Subjects = want.Subjects })
		},
		func() error {
			return apply(ctx, client.CoreV1().ConfigMaps(dnsNamespace), o.config, func(cur, want *corev1.ConfigMap) { cur.Data = want.Data })
		},
		func() error {
			return apply(ctx, client.AppsV1().Deployments(dnsNamespace), o.deployment, func(cur, want *appsv1.Deployment) { cur.Spec = want.Spec })
		},
		func() error {
			return apply(ctx, client.CoreV1().Services(dnsNamespace), o.service, func(cur, want *corev1.Service) {
				cur.Spec.Ports, cur.Spec.Selector = want.Spec.Ports, want.Spec.Selector
			})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("cluster DNS: %w", err)
		}
	}
	apiIP, err := serviceIP(cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, cfg.ReadyTimeout, true, func(ctx context.Context) (bool, error) {
		lastErr = checkDNS(ctx, ip, "kubernetes.default.svc."+cfg.ClusterDomain+".", apiIP)
		return lastErr == nil, nil
	})
	if err != nil {
		diagCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return fmt.Errorf("cluster DNS: no answer from %s after %s (%v; %s; kubectl -n kube-system describe pods -l k8s-app=kube-dns): %w",
			ip, cfg.ReadyTimeout, lastErr, describeDNSPods(diagCtx, client), err)
	}
	fmt.Fprintf(cfg.Out, "%-24s ready in %-6s service %s/%s at %s\n", dnsName, time.Since(began).Round(100*time.Millisecond),
		dnsNamespace, dnsServiceName, ip)
	return nil
}

// describeDNSPods says, in one line, where the CoreDNS pods are: each
// pod's phase, node and the reasons of its waiting containers and false
// conditions, and the last warning events of the pods and their ReplicaSet,
// so that a failed start explains itself.
func describeDNSPods(ctx context.Context, client kubernetes.Interface) string {
	pods, err := client.CoreV1().Pods(dnsNamespace).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=" + dnsAppLabel})
	if err != nil {
		return fmt.Sprintf("listing the CoreDNS pods: %v", err)
	}
	var parts []string
	if len(pods.Items) == 0 {
		parts = append(parts, "no CoreDNS pod exists")
	}
	for _, p := range pods.Items {
		desc := fmt.Sprintf("pod %s %s on node %q", p.Name, p.Status.Phase, p.Spec.NodeName)
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				desc += fmt.Sprintf(", %s: %s", c.Type, c.Message)
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				desc += fmt.Sprintf(", %s waiting: %s %s", cs.Name, w.Reason, w.Message)
			}
		}
		parts = append(parts, desc)
	}
	events, err := client.CoreV1().Events(dnsNamespace).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err == nil {
		slices.SortStableFunc(events.Items, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
		var warnings []string
		for _, e := range events.Items {
			if e.Type == corev1.EventTypeWarning && strings.HasPrefix(e.InvolvedObject.Name, dnsName) {
				warnings = append(warnings, fmt.Sprintf("%s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message))
			}
		}
		parts = append(parts, warnings[max(0, len(warnings)-3):]...)
	}
	return strings.Join(parts, "; ")
}

// eventTime is when an event last happened, whichever of its times the
// recorder set.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// checkDNS asks the cluster DNS at server, through its Service IP as pods
// do (kube-proxy's rules serve the host too), for name and expects want:
// the proof that kube-proxy, CoreDNS and CoreDNS's access to the API
// server all work.
func checkDNS(ctx context.Context, server net.IP, name string, want net.IP) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(server.String(), "53"))
	}}
	addrs, err := r.LookupHost(ctx, name)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if net.ParseIP(a).Equal(want) {
			return nil
		}
	}
	return fmt.Errorf("%s resolved to %v, want %s", name, addrs, want)
}

// objectClient is what apply needs of a typed client.
type objectClient[T metav1.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// apply creates want, or updates the object that exists with merge, which
// copies want's fields into the current object. It reads first: a create
// of an existing Service fails on its taken IP, not as AlreadyExists.
func apply[T metav1.Object](ctx context.Context, c objectClient[T], want T, merge func(cur, want T)) error {
	cur, err := c.Get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := c.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create %s: %w", want.GetName(), err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", want.GetName(), err)
	}
	merge(cur, want)
	if _, err := c.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update %s: %w", want.GetName(), err)
	}
	return nil
}

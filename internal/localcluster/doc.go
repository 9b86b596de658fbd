// Package localcluster runs a local Kubernetes control plane — etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler — as child
// processes of the calling program, with every certificate, key and
// kubeconfig they need generated into a state directory.
//
// `vnode up` and the end-to-end tests both use it: New and Start bring the
// cluster up and wait until each component is ready, Stop (or the death of
// the calling process) takes it down, and Status and Down inspect or stop a
// cluster that another process started from the same state directory.
//
// A state directory holds one cluster:
//
//	cluster.json    the configuration it was last started with
//	kubeconfig      admin kubeconfig
//	pki/            CAs, certificates, keys, and component kubeconfigs
//	etcd/           etcd's data
//	logs/           one log file per component
//	run/            pid files and the lock held by the running supervisor
//
// Starting again from an existing state directory reuses the CAs, the
// service-account keys and etcd's data.
package localcluster

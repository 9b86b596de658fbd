// Package pki creates and loads the certificate authorities, certificates
// and keys that a local Kubernetes cluster needs, as PEM files on disk.
package pki

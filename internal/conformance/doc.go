// Package conformance runs the node conformance tests of Kubernetes' e2e
// suite (the tests labelled Conformance and NodeConformance) against the
// virtual node of a local cluster, for `make conformance`:
//
//   - the suite's binaries come from internal/k8sbin's conformance kit;
//   - the suite's test images that these tests run are built by
//     internal/images (agnhost and nonewprivs from the suite's own module,
//     busybox and pause from vnode's images) and pushed to the cluster's
//     open registry under the upstream registries' names ([TestImages]);
//   - the suite's registry remapping (--kube-test-repo-list, [RepoList])
//     points every registry the suite knows at that registry;
//   - [Run] prepares the cluster (the virtual node's taint removed), runs
//     ginkgo on e2e.test with a label filter and a timeout, and leaves the
//     JUnit report and the log in a results directory;
//   - [ReadJUnit] and [WriteDoc] turn the report into the table of
//     docs/conformance.md, with the reasons ([KnownReasons]) why a test
//     cannot pass on a virtual node.
package conformance

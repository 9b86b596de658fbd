package kubeletapi

import (
	"net/http"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// requestAttributes returns what a request asks of the node, in the order
// to try: any one allowed lets the request through. It follows the
// kubelet (pkg/kubelet/server/auth.go): the verb comes from the method,
// the resource is the node, and the subresource from the path —
// /stats/... is stats, /metrics/... metrics, /logs/... log, anything else
// proxy. As with the kubelet's fine-grained authorization, /pods,
// /runningpods, /healthz and /configz may also be allowed through the
// narrower pods, healthz and configz subresources. Container logs (/containerLogs) are proxy,
// as on the kubelet.
func requestAttributes(u user.Info, r *http.Request, nodeName string) []authorizer.Attributes {
	path := r.URL.Path
	var subresources []string
	switch {
	case isSubpath(path, "/pods"), isSubpath(path, "/runningpods"):
		subresources = append(subresources, "pods")
	case isSubpath(path, "/healthz"):
		subresources = append(subresources, "healthz")
	case isSubpath(path, "/configz"):
		subresources = append(subresources, "configz")
	}
	switch {
	case isSubpath(path, "/stats"):
		subresources = append(subresources, "stats")
	case isSubpath(path, "/metrics"):
		subresources = append(subresources, "metrics")
	case isSubpath(path, "/logs"):
		subresources = append(subresources, "log")
	default:
		subresources = append(subresources, "proxy")
	}
	attrs := make([]authorizer.Attributes, 0, len(subresources))
	for _, sub := range subresources {
		attrs = append(attrs, authorizer.AttributesRecord{
			User:            u,
			Verb:            verb(r.Method),
			APIVersion:      "v1",
			Resource:        "nodes",
			Subresource:     sub,
			Name:            nodeName,
			ResourceRequest: true,
			Path:            path,
		})
	}
	return attrs
}

// verb maps an HTTP method to the API verb it stands for.
func verb(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	default:
		return strings.ToLower(method)
	}
}

// isSubpath reports whether path is dir or below it.
func isSubpath(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

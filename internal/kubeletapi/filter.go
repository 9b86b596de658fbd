package kubeletapi

import (
	"fmt"
	"log/slog"
	"net/http"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// withAuth lets a request through to next only when its caller is
// authenticated (401 otherwise: anonymous requests are refused) and
// allowed by authz for one of its attributes (403 otherwise, with the
// kubelet's message).
func withAuth(next http.Handler, authn authenticator.Request, authz authorizer.UnconditionalAuthorizer, nodeName string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := authn.AuthenticateRequest(r)
		if err != nil {
			log.Debug("kubelet API: authentication failed", "path", r.URL.Path, "err", err)
		}
		if err != nil || !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		attrs := requestAttributes(resp.User, r, nodeName)
		subresources := make([]string, 0, len(attrs))
		for _, a := range attrs {
			subresources = append(subresources, a.GetSubresource())
			decision, _, err := authz.Authorize(r.Context(), a)
			if err != nil {
				log.Warn("kubelet API: authorization failed", "user", resp.User.GetName(), "path", r.URL.Path, "err", err)
				http.Error(w, fmt.Sprintf("Authorization error (user=%s, verb=%s, resource=%s, subresource=%s)",
					resp.User.GetName(), a.GetVerb(), a.GetResource(), a.GetSubresource()), http.StatusInternalServerError)
				return
			}
			if decision == authorizer.DecisionAllow {
				next.ServeHTTP(w, r)
				return
			}
		}
		a := attrs[0]
		log.Debug("kubelet API: forbidden", "user", resp.User.GetName(), "verb", a.GetVerb(), "subresources", subresources)
		http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource(s)=%v)",
			resp.User.GetName(), a.GetVerb(), a.GetResource(), subresources), http.StatusForbidden)
	})
}

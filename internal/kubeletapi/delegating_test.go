package kubeletapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// reviewAPI is an API server that answers TokenReviews (token "good" is
// user alice, "weak" is user bob) and SubjectAccessReviews (alice may do
// anything to node vn), counting the reviews. The delegating
// authenticator posts through the REST client, which a fake clientset
// lacks.
func reviewAPI(t *testing.T, tokenReviews, accessReviews *atomic.Int32) kubernetes.Interface {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /apis/authentication.k8s.io/v1/tokenreviews", func(w http.ResponseWriter, r *http.Request) {
		tokenReviews.Add(1)
		var tr authenticationv1.TokenReview
		_ = json.NewDecoder(r.Body).Decode(&tr)
		switch tr.Spec.Token {
		case "good":
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "alice", Groups: []string{"team"}}}
		case "weak":
			tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: authenticationv1.UserInfo{Username: "bob"}}
		}
		answerJSON(w, tr)
	})
	mux.HandleFunc("POST /apis/authorization.k8s.io/v1/subjectaccessreviews", func(w http.ResponseWriter, r *http.Request) {
		accessReviews.Add(1)
		var sar authorizationv1.SubjectAccessReview
		_ = json.NewDecoder(r.Body).Decode(&sar)
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = sar.Spec.User == "alice" && ra != nil && ra.Resource == "nodes" && ra.Name == "vn"
		answerJSON(w, sar)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func TestDelegatingAuth(t *testing.T) {
	var tokenReviews, accessReviews atomic.Int32
	authn, authz, err := NewDelegatingAuth(AuthConfig{Client: reviewAPI(t, &tokenReviews, &accessReviews)})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := httptest.NewServer(withAuth(ok, authn, authz, "vn", slog.New(slog.DiscardHandler)))
	defer srv.Close()
	call := func(token string) int {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/stats/summary", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		token string
		code  int
	}{{"", 401}, {"bad", 401}, {"weak", 403}, {"good", 200}, {"good", 200}} {
		if got := call(tt.token); got != tt.code {
			t.Errorf("token %q: status %d, want %d", tt.token, got, tt.code)
		}
	}
	// The second request with "good" was answered from both caches.
	if tokenReviews.Load() != 3 || accessReviews.Load() != 2 {
		t.Errorf("%d token reviews and %d access reviews, want 3 and 2", tokenReviews.Load(), accessReviews.Load())
	}
}

// answerJSON writes v as the API server would answer.
func answerJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

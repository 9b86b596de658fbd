// Package api serves the container instances service over Azure Resource
// Manager's REST conventions, in the wire format of ACI's api-version
// wire.APIVersion with vnode's extensions (package wire): routing,
// bearer-token authentication, api-version checks, request throttling,
// long-running operation headers, ARM error bodies, and the websocket
// endpoint behind exec and attach.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/service"
	"github.com/vnode-io/vnode/internal/instances/throttle"
	"github.com/vnode-io/vnode/internal/wire"
)

// maxBodyBytes bounds request bodies (ARM's limit is 4 MB).
const maxBodyBytes = 4 << 20

// Options configure a Server.
type Options struct {
	Service *service.Service
	Tokens  *Tokens
	// Limiter throttles reads and writes per subscription; nil for none.
	Limiter *throttle.Limiter
	// BaseURL is how clients reach the service (https://host:port), used in
	// operation and websocket URLs.
	BaseURL string
	// Logger receives the server's logs; nothing is logged when nil.
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// PollInterval is suggested to clients polling operations (default 200 ms).
	PollInterval time.Duration
}

// Server is the HTTP face of the service.
type Server struct {
	svc     *service.Service
	tokens  *Tokens
	limiter *throttle.Limiter
	base    string
	log     *slog.Logger
	poll    time.Duration
	router  router
	metrics *metrics
	reg     *prometheus.Registry
	// streams ends long-lived responses (followed logs) at shutdown.
	streams     context.Context
	stopStreams context.CancelFunc
}

// New returns a server; Handler serves it.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	s := &Server{svc: o.Service, tokens: o.Tokens, limiter: o.Limiter, base: o.BaseURL, log: o.Logger,
		poll: o.PollInterval, metrics: newMetrics(o.Registry), reg: o.Registry}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.routes()
	return s
}

// CloseStreams ends the long-lived responses in flight (followed logs), so
// that a graceful shutdown need not wait for them.
func (s *Server) CloseStreams() { s.stopStreams() }

const (
	provider = "providers/Microsoft.ContainerInstance"
	subPath  = "subscriptions/{subscription}"
	rgPath   = subPath + "/resourceGroups/{resourceGroup}"
	cgPath   = rgPath + "/" + provider + "/containerGroups/{name}"
	locPath  = subPath + "/" + provider + "/locations/{location}"
	ctrPath  = cgPath + "/containers/{container}"
)

func (s *Server) routes() {
	r := &s.router
	r.add(http.MethodPut, cgPath, "containerGroups.createOrUpdate", s.putGroup)
	r.add(http.MethodGet, cgPath, "containerGroups.get", s.getGroup)
	r.add(http.MethodPatch, cgPath, "containerGroups.update", s.patchGroup)
	r.add(http.MethodDelete, cgPath, "containerGroups.delete", s.deleteGroup)
	r.add(http.MethodGet, rgPath+"/"+provider+"/containerGroups", "containerGroups.listByResourceGroup", s.listGroups)
	r.add(http.MethodGet, subPath+"/"+provider+"/containerGroups", "containerGroups.list", s.listGroups)
	r.add(http.MethodPost, cgPath+"/start", "containerGroups.start", s.startGroup)
	r.add(http.MethodPost, cgPath+"/stop", "containerGroups.stop", s.stopGroup)
	r.add(http.MethodPost, cgPath+"/restart", "containerGroups.restart", s.restartGroup)
	r.add(http.MethodPost, cgPath+"/refreshVolumes", "vnode.refreshVolumes", s.refreshVolumes)
	r.add(http.MethodGet, cgPath+"/stats", "vnode.containerGroupStats", s.groupStats)
	r.add(http.MethodGet, cgPath+"/outboundNetworkDependenciesEndpoints", "containerGroups.outboundNetworkDependenciesEndpoints", s.outboundEndpoints)
	r.add(http.MethodGet, ctrPath+"/logs", "containers.listLogs", s.logs)
	r.add(http.MethodPost, ctrPath+"/exec", "containers.executeCommand", s.exec)
	r.add(http.MethodPost, ctrPath+"/attach", "containers.attach", s.attach)
	r.add(http.MethodGet, locPath+"/usages", "location.listUsage", s.usages)
	r.add(http.MethodGet, locPath+"/capabilities", "location.listCapabilities", s.capabilities)
	r.add(http.MethodGet, locPath+"/cachedImages", "location.listCachedImages", s.cachedImages)
	r.add(http.MethodGet, locPath+"/operations/{operation}", "location.operationStatus", s.operationStatus)
	r.add(http.MethodGet, provider+"/operations", "operations.list", s.operations)
	r.add(http.MethodGet, subPath+"/"+provider+"/meteredUsage", "vnode.meteredUsage", s.meteredUsage)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz", "/readyz":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
		return
	}
	if sid, ok := sessionPath(r.URL.Path); ok {
		s.serveSession(w, r, sid)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	op := s.dispatch(rec, r)
	s.metrics.observe(op, r.Method, rec.status, time.Since(start))
}

// dispatch authenticates, checks api-version, throttles and routes one ARM
// request; it returns the operation name for metrics.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) string {
	reqID := newRequestID()
	w.Header().Set(wire.ExtensionsHeader, wire.FormatExtensions(wire.Extensions()))
	w.Header().Set("x-ms-request-id", reqID)
	w.Header().Set("x-ms-correlation-request-id", correlationID(r, reqID))
	grant, err := s.tokens.Authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="", error="invalid_token"`)
		armerr.Write(w, err)
		return "unauthenticated"
	}
	if r.URL.Path == "/metrics" {
		promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		return "metrics"
	}
	rt, p, pathMatched := s.router.match(r.Method, r.URL.Path)
	if rt == nil {
		if pathMatched {
			armerr.Write(w, armerr.New(http.StatusMethodNotAllowed, "MethodNotAllowed",
				"The HTTP method '%s' is not supported for this resource.", r.Method))
			return "methodNotAllowed"
		}
		armerr.Write(w, armerr.New(http.StatusNotFound, "InvalidResourceType",
			"The resource type could not be found in the namespace 'Microsoft.ContainerInstance' for api version '%s'.",
			quoted(r.URL.Query().Get("api-version"))))
		return "notFound"
	}
	if err := checkAPIVersion(r.URL.Query().Get("api-version")); err != nil {
		armerr.Write(w, err)
		return rt.op
	}
	if err := s.admit(grant, rt, p, r, w.Header()); err != nil {
		writeError(w, err)
		return rt.op
	}
	rt.handle(w, r, p)
	return rt.op
}

// admit decides, in this order, whether the request may go on: its
// subscription is well formed, known and granted to its token; its
// resource group name is valid; its subscription's budget allows it. Only
// the last step keeps anything for the subscription, so names a client
// makes up cost the service nothing.
func (s *Server) admit(g *Grant, rt *route, p params, r *http.Request, h http.Header) error {
	sub, ok := p["subscription"]
	if !ok {
		return nil
	}
	if err := s.tokens.Authorize(g, sub, rt.action, r.URL.Path); err != nil {
		return err
	}
	if rg, ok := p["resourceGroup"]; ok {
		if err := checkResourceGroup(rg); err != nil {
			return err
		}
	}
	if s.limiter == nil {
		return nil
	}
	kind := throttle.Write
	if r.Method == http.MethodGet {
		kind = throttle.Read
	}
	budgets, err := s.limiter.Allow(kind, sub, rt.op)
	tellBudgets(h, budgets)
	return err
}

// rateLimitHeaderPrefix starts the name of each header in which ARM tells
// a client what a budget has left (the budget's name follows).
const rateLimitHeaderPrefix = "x-ms-ratelimit-remaining-"

// tellBudgets writes what a throttle decision left of each budget into
// ARM's headers.
func tellBudgets(h http.Header, d throttle.Decision) {
	for _, left := range d.Left {
		h.Set(rateLimitHeaderPrefix+string(left.Budget), strconv.Itoa(left.Count))
	}
}

// writeError answers err in ARM's shape (armerr.From classifies it),
// telling the budgets a throttle refusal left.
func writeError(w http.ResponseWriter, err error) {
	var refusal *throttle.Refusal
	if errors.As(err, &refusal) {
		tellBudgets(w.Header(), refusal.Decision)
	}
	armerr.Write(w, err)
}

var apiVersionPattern = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(-preview)?$`)

// checkAPIVersion accepts wire.APIVersion and later versions of the same
// shape.
func checkAPIVersion(v string) error {
	if v == "" {
		return armerr.New(http.StatusBadRequest, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests.")
	}
	m := apiVersionPattern.FindStringSubmatch(v)
	if m == nil || m[1] < wire.APIVersion {
		return armerr.New(http.StatusBadRequest, "NoRegisteredProviderFound",
			"No registered resource provider found for API version '%s' and type 'containerGroups'. The supported api-versions are '%s' and later.",
			quoted(v), wire.APIVersion)
	}
	return nil
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func correlationID(r *http.Request, fallback string) string {
	if v := r.Header.Get("x-ms-correlation-request-id"); v != "" && len(v) <= 64 {
		return v
	}
	if v := r.Header.Get("x-ms-client-request-id"); v != "" && len(v) <= 64 {
		return v
	}
	return fallback
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	writeRaw(w, status, data)
}

// writeRaw answers with status and a JSON body.
func writeRaw(w http.ResponseWriter, status int, data []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// readJSON decodes a request body into v with ARM's error on failure.
func readJSON(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(data, v)
}

// readBody reads a non-empty request body of at most maxBodyBytes. A body
// declared larger is refused before any of it is read; one that does not
// arrive in time is answered 408.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return nil, tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, armerr.New(http.StatusRequestTimeout, "RequestTimeout",
			"The request content was not received in time.")
	}
	if err != nil {
		return nil, armerr.InvalidRequestContent("The request content could not be read: %v", err)
	}
	if len(data) > maxBodyBytes {
		return nil, tooLarge()
	}
	if len(data) == 0 {
		return nil, armerr.InvalidRequestContent("The request content was invalid and could not be deserialized: the body is empty.")
	}
	return data, nil
}

func tooLarge() *armerr.Error {
	return armerr.New(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		"The request content size exceeds the maximum of %d bytes.", maxBodyBytes)
}

// decodeJSON decodes a request body into v with ARM's error on failure.
func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		var syn *json.SyntaxError
		msg := err.Error()
		if errors.As(err, &syn) {
			msg = "malformed JSON at offset " + strconv.FormatInt(syn.Offset, 10)
		}
		return armerr.InvalidRequestContent("The request content was invalid and could not be deserialized: '%s'.", msg)
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (to flush
// streamed logs).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/service"
	"github.com/vnode-io/vnode/internal/instances/store"
	"github.com/vnode-io/vnode/internal/wire"
)

func groupRef(p params) service.Ref {
	return service.Ref{Subscription: p["subscription"], ResourceGroup: p["resourceGroup"], Name: p["name"]}
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request, p params) {
	data, err := readBody(r)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	body := &aci.ContainerGroup{}
	if err := decodeJSON(data, body); err != nil {
		armerr.Write(w, err)
		return
	}
	ext, err := wire.ParseGroup(data)
	if err != nil {
		armerr.Write(w, armerr.InvalidRequestContent("The request content was invalid and could not be deserialized: '%v'.", err))
		return
	}
	res, err := s.svc.CreateOrUpdate(r.Context(), groupRef(p), body, ext)
	if err != nil {
		writeError(w, err)
		return
	}
	tellBudgets(w.Header(), res.Throttle)
	if res.Operation != nil {
		s.asyncHeaders(w, r, p["subscription"], res.Operation)
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	out, err := json.Marshal(res.Group)
	if err == nil {
		out, err = wire.ApplyGroup(out, wire.GroupAdditions{GroupExtensions: ext})
	}
	if err != nil {
		armerr.Write(w, err)
		return
	}
	writeRaw(w, status, out)
}

// asyncHeaders points the client at the operation's status resource.
func (s *Server) asyncHeaders(w http.ResponseWriter, r *http.Request, sub string, op *store.Operation) {
	u := s.base + "/subscriptions/" + sub + "/providers/Microsoft.ContainerInstance/locations/" + op.Location +
		"/operations/" + op.ID + "?api-version=" + url.QueryEscape(r.URL.Query().Get("api-version"))
	h := w.Header()
	h.Set("Azure-AsyncOperation", u)
	s.retryHeaders(h)
}

func (s *Server) retryHeaders(h http.Header) {
	secs := int((s.poll + time.Second - 1) / time.Second)
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("Retry-After-Ms", strconv.FormatInt(s.poll.Milliseconds(), 10))
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, p params) {
	g, err := s.svc.Get(groupRef(p))
	if err != nil {
		armerr.Write(w, err)
		return
	}
	s.writeGroup(w, groupRef(p), g)
}

// writeGroup answers 200 with a group and vnode's additions, as GET does.
func (s *Server) writeGroup(w http.ResponseWriter, ref service.Ref, g *aci.ContainerGroup) {
	data, err := json.Marshal(g)
	if err == nil {
		data, err = wire.ApplyGroup(data, s.svc.Additions(ref))
	}
	if err != nil {
		armerr.Write(w, err)
		return
	}
	writeRaw(w, http.StatusOK, data)
}

// refreshVolumesRequest is the body of vnode's refreshVolumes action.
type refreshVolumesRequest struct {
	// Volumes are secret volumes of the group with their new files.
	Volumes []*aci.Volume `json:"volumes"`
}

// refreshVolumes replaces the files of a group's secret volumes in place
// (the refresh-volumes extension) and answers with the group as GET does.
func (s *Server) refreshVolumes(w http.ResponseWriter, r *http.Request, p params) {
	data, err := readBody(r)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	var body refreshVolumesRequest
	if err := decodeJSON(data, &body); err != nil {
		armerr.Write(w, err)
		return
	}
	modes, err := wire.ParseRefreshModes(data)
	if err != nil {
		armerr.Write(w, armerr.InvalidRequestContent("The request content was invalid and could not be deserialized: '%v'.", err))
		return
	}
	g, err := s.svc.RefreshVolumes(r.Context(), groupRef(p), body.Volumes, modes)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	s.writeGroup(w, groupRef(p), g)
}

func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, p params) {
	var body aci.Resource
	if err := readJSON(r, &body); err != nil {
		armerr.Write(w, err)
		return
	}
	g, err := s.svc.UpdateTags(r.Context(), groupRef(p), body.Tags)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, p params) {
	grace, err := gracePeriod(r)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	res, err := s.svc.Delete(r.Context(), groupRef(p), grace)
	if err != nil {
		writeError(w, err)
		return
	}
	tellBudgets(w.Header(), res.Throttle)
	if res.Operation == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.asyncHeaders(w, r, p["subscription"], res.Operation)
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, p params) {
	query := r.URL.Query()
	skip := query.Get("$skipToken")
	nextLink := func(next string) *string {
		if next == "" {
			return nil
		}
		q := url.Values{}
		q.Set("api-version", query.Get("api-version"))
		q.Set("$skipToken", next)
		if expand := query.Get("$expand"); expand != "" {
			q.Set("$expand", expand)
		}
		link := s.base + r.URL.Path + "?" + q.Encode()
		return &link
	}
	switch expand := query.Get("$expand"); {
	case expand == "":
	case strings.EqualFold(expand, "instanceView"):
		s.listGroupsExpanded(w, p, skip, nextLink)
		return
	default:
		armerr.Write(w, armerr.BadRequest("InvalidParameter", "$expand",
			"The $expand parameter supports only 'instanceView', got '%s'.", expand))
		return
	}
	items, next := s.svc.List(p["subscription"], p["resourceGroup"], skip, s.svc.Config().ListPageSize)
	if items == nil {
		items = []*aci.ContainerGroup{}
	}
	writeJSON(w, http.StatusOK, aci.ContainerGroupListResult{Value: items, NextLink: nextLink(next)})
}

// listGroupsExpanded answers a list with $expand=instanceView (vnode's
// list-instance-view extension): each group as GET shows it.
func (s *Server) listGroupsExpanded(w http.ResponseWriter, p params, skip string, nextLink func(string) *string) {
	listed, next := s.svc.ListExpanded(p["subscription"], p["resourceGroup"], skip, s.svc.Config().ListPageSize)
	page := struct {
		Value    []json.RawMessage `json:"value"`
		NextLink *string           `json:"nextLink,omitempty"`
	}{Value: make([]json.RawMessage, 0, len(listed)), NextLink: nextLink(next)}
	for _, l := range listed {
		data, err := json.Marshal(l.Group)
		if err == nil {
			data, err = wire.ApplyGroup(data, l.Additions)
		}
		if err != nil {
			armerr.Write(w, err)
			return
		}
		page.Value = append(page.Value, data)
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) startGroup(w http.ResponseWriter, r *http.Request, p params) {
	op, err := s.svc.Start(r.Context(), groupRef(p))
	if err != nil {
		armerr.Write(w, err)
		return
	}
	if op == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.asyncHeaders(w, r, p["subscription"], op)
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) stopGroup(w http.ResponseWriter, r *http.Request, p params) {
	grace, err := gracePeriod(r)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	if err := s.svc.Stop(r.Context(), groupRef(p), grace); err != nil {
		armerr.Write(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// gracePeriod reads gracePeriodSeconds, a vnode extension of DELETE and
// stop: how long containers get between SIGTERM and SIGKILL (0 or absent:
// the runtime's default, 30 s).
func gracePeriod(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("gracePeriodSeconds")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > wire.MaxGracePeriodSeconds {
		return 0, armerr.BadRequest("InvalidParameter", "gracePeriodSeconds",
			"The gracePeriodSeconds parameter must be an integer from 0 to %d, got '%s'.", wire.MaxGracePeriodSeconds, v)
	}
	return time.Duration(n) * time.Second, nil
}

func (s *Server) restartGroup(w http.ResponseWriter, r *http.Request, p params) {
	if err := s.svc.Restart(r.Context(), groupRef(p)); err != nil {
		armerr.Write(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) outboundEndpoints(w http.ResponseWriter, r *http.Request, p params) {
	if _, err := s.svc.Get(groupRef(p)); err != nil {
		armerr.Write(w, err)
		return
	}
	// Groups here need no outbound network dependencies of the service.
	writeJSON(w, http.StatusOK, []string{})
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request, p params) {
	q := r.URL.Query()
	var opts runtime.LogOptions
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			armerr.Write(w, armerr.BadRequest("InvalidParameter", "tail", "The tail parameter must be a non-negative integer, got '%s'.", v))
			return
		}
		opts.Tail = n
	}
	if v := q.Get("timestamps"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			armerr.Write(w, armerr.BadRequest("InvalidParameter", "timestamps", "The timestamps parameter must be true or false, got '%s'.", v))
			return
		}
		opts.Timestamps = b
	}
	if v := q.Get("previous"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			armerr.Write(w, armerr.BadRequest("InvalidParameter", "previous", "The previous parameter must be true or false, got '%s'.", v))
			return
		}
		opts.Previous = b
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			armerr.Write(w, armerr.BadRequest("InvalidParameter", "sinceTime", "The sinceTime parameter must be an RFC 3339 time, got '%s'.", v))
			return
		}
		opts.Since = t
	}
	limit := int64(-1)
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			armerr.Write(w, armerr.BadRequest("InvalidParameter", "limitBytes", "The limitBytes parameter must be a positive integer, got '%s'.", v))
			return
		}
		limit = n
	}
	follow := false
	if v := q.Get("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			armerr.Write(w, armerr.BadRequest("InvalidParameter", "follow", "The follow parameter must be true or false, got '%s'.", v))
			return
		}
		follow = b
	}
	if follow && !opts.Previous {
		s.followLogs(w, r, p, opts, limit)
		return
	}
	content, err := s.svc.Logs(r.Context(), groupRef(p), p["container"], opts)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	if limit >= 0 && int64(len(content)) > limit {
		content = content[:limit]
	}
	if follow {
		// A previous run has ended: its whole log is the stream.
		fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
		fw.start()
		_, _ = io.WriteString(fw, content)
		return
	}
	writeJSON(w, http.StatusOK, aci.Logs{Content: &content})
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request, p params) {
	data, err := readBody(r)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	var req aci.ContainerExecRequest
	var ext wire.ExecExtension
	if err := decodeJSON(data, &req); err != nil {
		armerr.Write(w, err)
		return
	}
	if err := decodeJSON(data, &ext); err != nil {
		armerr.Write(w, err)
		return
	}
	sess, err := s.svc.NewExec(groupRef(p), p["container"], &req, ext.Argv)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	uri := s.sessionURI(sess.ID)
	writeJSON(w, http.StatusOK, aci.ContainerExecResponse{WebSocketURI: &uri, Password: &sess.Password})
}

func (s *Server) attach(w http.ResponseWriter, r *http.Request, p params) {
	sess, err := s.svc.NewAttach(groupRef(p), p["container"])
	if err != nil {
		armerr.Write(w, err)
		return
	}
	uri := s.sessionURI(sess.ID)
	writeJSON(w, http.StatusOK, aci.ContainerAttachResponse{WebSocketURI: &uri, Password: &sess.Password})
}

func (s *Server) sessionURI(id string) string {
	base := s.base
	switch {
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base + sessionPrefix + id
}

func (s *Server) usages(w http.ResponseWriter, r *http.Request, p params) {
	u, err := s.svc.Usages(p["subscription"], p["location"])
	if err != nil {
		armerr.Write(w, err)
		return
	}
	writeJSON(w, http.StatusOK, aci.UsageListResult{Value: u})
}

func (s *Server) capabilities(w http.ResponseWriter, r *http.Request, p params) {
	c, err := s.svc.Capabilities(p["location"])
	if err != nil {
		armerr.Write(w, err)
		return
	}
	writeJSON(w, http.StatusOK, aci.CapabilitiesListResult{Value: c})
}

func (s *Server) cachedImages(w http.ResponseWriter, r *http.Request, p params) {
	c, err := s.svc.CachedImages(r.Context(), p["location"])
	if err != nil {
		armerr.Write(w, err)
		return
	}
	writeJSON(w, http.StatusOK, aci.CachedImagesListResult{Value: c})
}

// operationStatus is the resource behind an Azure-AsyncOperation URL.
type operationStatus struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	StartTime time.Time  `json:"startTime"`
	EndTime   *time.Time `json:"endTime,omitempty"`
	Error     *opError   `json:"error,omitempty"`
}

type opError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) operationStatus(w http.ResponseWriter, r *http.Request, p params) {
	op, err := s.svc.Operation(r.Context(), p["subscription"], p["location"], p["operation"])
	if err != nil {
		armerr.Write(w, err)
		return
	}
	res := operationStatus{ID: r.URL.Path, Name: op.ID, Status: op.Status, StartTime: op.StartTime}
	if !op.EndTime.IsZero() {
		end := op.EndTime
		res.EndTime = &end
	}
	if op.ErrorCode != "" {
		res.Error = &opError{Code: op.ErrorCode, Message: op.ErrorMessage}
	}
	if op.Status == service.OpInProgress {
		s.retryHeaders(w.Header())
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) operations(w http.ResponseWriter, r *http.Request, _ params) {
	writeJSON(w, http.StatusOK, aci.OperationListResult{Value: providerOperations()})
}

// providerOperations lists the operations this resource provider offers, as
// ARM's operations endpoint does.
func providerOperations() []*aci.Operation {
	type entry struct{ name, resource, op, desc string }
	entries := []entry{
		{"containerGroups/read", "Container Group", "Get Container Groups", "Get all container groups."},
		{"containerGroups/write", "Container Group", "Create or Update Container Group", "Create or update a specific container group."},
		{"containerGroups/delete", "Container Group", "Delete Container Group", "Delete the specific container group."},
		{"containerGroups/start/action", "Container Group", "Start Container Group", "Starts a specific container group."},
		{"containerGroups/stop/action", "Container Group", "Stop Container Group", "Stops a specific container group. Compute resources are released and billing stops."},
		{"containerGroups/restart/action", "Container Group", "Restart Container Group", "Restarts a specific container group."},
		{"containerGroups/containers/logs/read", "Container", "Get Container Logs", "Get the logs of a specific container."},
		{"containerGroups/containers/exec/action", "Container", "Exec into Container", "Exec into a specific container."},
		{"containerGroups/containers/attach/action", "Container", "Attach to Container", "Attach to the output stream of a container."},
		{"locations/usages/read", "Usage", "Get Usage", "Get the usage of a subscription in a location."},
		{"locations/capabilities/read", "Capabilities", "Get Capabilities", "Get the capabilities of a location."},
		{"locations/cachedImages/read", "Cached Images", "Get Cached Images", "Get the cached images of a location."},
		{"locations/operations/read", "Operation", "Get Async Operation", "Get the status of an asynchronous operation."},
	}
	origin := aci.ContainerInstanceOperationsOriginUser
	var out []*aci.Operation
	for _, e := range entries {
		name := "Microsoft.ContainerInstance/" + e.name
		prov, res, op, desc := "Microsoft Container Instance", e.resource, e.op, e.desc
		out = append(out, &aci.Operation{Name: &name, Origin: &origin,
			Display: &aci.OperationDisplay{Provider: &prov, Resource: &res, Operation: &op, Description: &desc}})
	}
	return out
}

// meteredUsage serves GET .../meteredUsage?from=&to=&groupBy=&resourceGroup=&location=&name=
// (RFC 3339 times; groupBy a comma-separated list of resourceGroup, location, name).
func (s *Server) meteredUsage(w http.ResponseWriter, r *http.Request, p params) {
	q := r.URL.Query()
	query := store.UsageQuery{Subscription: p["subscription"], ResourceGroup: q.Get("resourceGroup"),
		Location: q.Get("location"), Name: q.Get("name")}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"from", &query.From}, {"to", &query.To}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				armerr.Write(w, armerr.BadRequest("InvalidParameter", f.name, "The %s parameter must be an RFC 3339 time, got '%s'.", f.name, v))
				return
			}
			*f.dst = store.UnixSeconds(t)
		}
	}
	if v := q.Get("groupBy"); v != "" {
		for _, d := range strings.Split(v, ",") {
			switch d = strings.TrimSpace(d); d {
			case "resourceGroup", "location", "name", "subscription":
				query.GroupBy = append(query.GroupBy, d)
			default:
				armerr.Write(w, armerr.BadRequest("InvalidParameter", "groupBy",
					"Unknown groupBy dimension '%s'; use resourceGroup, location or name.", d))
				return
			}
		}
	}
	rows, window, err := s.svc.MeteredUsage(r.Context(), query)
	if err != nil {
		armerr.Write(w, err)
		return
	}
	res := wire.MeteredUsage{Value: []wire.MeteredRecord{}}
	for _, row := range rows {
		res.Value = append(res.Value, wire.MeteredRecord{Subscription: row.Subscription, ResourceGroup: row.ResourceGroup,
			Location: row.Location, Name: row.Name, Seconds: row.Seconds, VCPUSeconds: row.VCPUSeconds,
			GBSeconds: row.GBSeconds, Cost: row.Cost, Currency: row.Currency})
	}
	res.From, res.To = time.Unix(window.From, 0).UTC(), time.Unix(window.To, 0).UTC()
	writeJSON(w, http.StatusOK, res)
}

// followLogs streams a container's log as plain text, flushing each piece,
// until the container stops or the client goes: a vnode extension
// (follow=true) of the logs operation.
// A non-negative limit ends the stream after that many bytes.
func (s *Server) followLogs(w http.ResponseWriter, r *http.Request, p params, opts runtime.LogOptions, limit int64) {
	if err := s.svc.CheckContainer(groupRef(p), p["container"]); err != nil {
		armerr.Write(w, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	fw.start()
	var out io.Writer = fw
	if limit >= 0 {
		out = &limitWriter{w: fw, left: limit, done: cancel}
	}
	if err := s.svc.FollowLogs(ctx, groupRef(p), p["container"], opts, out); err != nil {
		s.log.Info("following a log ended with an error", "err", err)
	}
}

// flushWriter sends each write to the client at once.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f *flushWriter) start() {
	f.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	f.w.Header().Set("X-Content-Type-Options", "nosniff")
	f.w.WriteHeader(http.StatusOK)
	_ = f.rc.Flush()
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// groupStats serves a group's resource usage, a vnode extension.
func (s *Server) groupStats(w http.ResponseWriter, r *http.Request, p params) {
	st, err := s.svc.Stats(r.Context(), groupRef(p))
	if err != nil {
		armerr.Write(w, err)
		return
	}
	res := wire.GroupStats{Time: st.Time.UTC(), Containers: []wire.ContainerStats{}}
	for _, c := range st.Containers {
		res.Containers = append(res.Containers, wire.ContainerStats{Name: c.Name, CPUUsageNanoCores: c.CPUUsageNanoCores,
			CPUUsageCoreNanoSeconds: c.CPUUsageCoreNanoSeconds, MemoryWorkingSetBytes: c.MemoryWorkingSetBytes,
			MemoryUsageBytes: c.MemoryUsageBytes, MemoryRSSBytes: c.MemoryRSSBytes, Probes: wireProbeCounts(c.Probes)})
	}
	if n := st.Network; n != nil {
		res.Network = &wire.NetworkStats{Interface: n.Interface, RxBytes: n.RxBytes, RxErrors: n.RxErrors,
			TxBytes: n.TxBytes, TxErrors: n.TxErrors}
	}
	writeJSON(w, http.StatusOK, res)
}

// limitWriter passes on at most left bytes, then calls done and drops the
// rest.
type limitWriter struct {
	w    io.Writer
	left int64
	done func()
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return len(p), nil
	}
	n := len(p)
	if int64(n) > l.left {
		p = p[:l.left]
	}
	if _, err := l.w.Write(p); err != nil {
		return 0, err
	}
	l.left -= int64(len(p))
	if l.left <= 0 {
		l.done()
	}
	return n, nil
}

func wireProbeCounts(in []runtime.ProbeCount) []wire.ProbeCount {
	var out []wire.ProbeCount
	for _, p := range in {
		out = append(out, wire.ProbeCount{Probe: p.Probe, Result: p.Result, Count: p.Count})
	}
	return out
}

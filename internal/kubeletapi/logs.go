package kubeletapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// containerLogs serves GET /containerLogs/{namespace}/{pod}/{container}:
// 400 for a bad query, 404 for an unknown pod or container, then the log
// as it comes, flushed at every write.
func (h *handler) containerLogs(w http.ResponseWriter, r *http.Request) {
	podLogOpts, err := parsePodLogOptions(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pod, name, cio, ok := h.containerTarget(w, r, "container logs")
	if !ok {
		return
	}
	opts := logOptions(podLogOpts, h.cfg.Clock.Now())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fw := &flushWriter{w: w}
	err = cio.Logs(r.Context(), podRef(pod), name, opts, fw)
	switch {
	case err == nil:
	case fw.wrote:
		// The status is sent; all that is left is to cut the stream short.
		h.cfg.Logger.Warn("kubelet API: container log interrupted", "pod", pod.Namespace+"/"+pod.Name, "container", name, "err", err)
	case errors.Is(err, backend.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	default:
		// As the kubelet: what the runtime cannot give is a bad request
		// (a previous run that does not exist, a container not started).
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

// parsePodLogOptions reads the query the API server sends, as
// corev1.PodLogOptions, and validates it as the API does.
func parsePodLogOptions(q url.Values) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{}
	var err error
	boolParam := func(name string, dst *bool) {
		if v := q.Get(name); v != "" && err == nil {
			if *dst, err = strconv.ParseBool(v); err != nil {
				err = fmt.Errorf("query parameter %s=%q: not a boolean", name, v)
			}
		}
	}
	intParam := func(name string, dst **int64) {
		if v := q.Get(name); v != "" && err == nil {
			n, perr := strconv.ParseInt(v, 10, 64)
			if perr != nil {
				err = fmt.Errorf("query parameter %s=%q: not an integer", name, v)
				return
			}
			*dst = &n
		}
	}
	boolParam("follow", &opts.Follow)
	boolParam("previous", &opts.Previous)
	boolParam("timestamps", &opts.Timestamps)
	boolParam("insecureSkipTLSVerifyBackend", &opts.InsecureSkipTLSVerifyBackend)
	intParam("sinceSeconds", &opts.SinceSeconds)
	intParam("limitBytes", &opts.LimitBytes)
	// "tail" is the old name of tailLines; "all" means no limit.
	if tail := q.Get("tail"); tail != "" && tail != "all" && q.Get("tailLines") == "" {
		q.Set("tailLines", tail) // q is the caller's copy of the query
	}
	intParam("tailLines", &opts.TailLines)
	if v := q.Get("sinceTime"); v != "" && err == nil {
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			err = fmt.Errorf("query parameter sinceTime=%q: not an RFC 3339 time", v)
		}
		opts.SinceTime = &metav1.Time{Time: t}
	}
	if err != nil {
		return nil, err
	}
	return opts, validatePodLogOptions(opts)
}

// validatePodLogOptions applies the API's rules for PodLogOptions.
func validatePodLogOptions(o *corev1.PodLogOptions) error {
	switch {
	case o.TailLines != nil && *o.TailLines < 0:
		return errors.New("tailLines must be greater than or equal to 0")
	case o.LimitBytes != nil && *o.LimitBytes < 1:
		return errors.New("limitBytes must be greater than 0")
	case o.SinceSeconds != nil && *o.SinceSeconds < 1:
		return errors.New("sinceSeconds must be greater than 0")
	case o.SinceSeconds != nil && o.SinceTime != nil:
		return errors.New("at most one of sinceTime or sinceSeconds may be specified")
	}
	return nil
}

// logOptions resolves PodLogOptions for the backend: sinceSeconds
// becomes a time.
func logOptions(o *corev1.PodLogOptions, now time.Time) backend.LogOptions {
	out := backend.LogOptions{
		Follow: o.Follow, Timestamps: o.Timestamps, Previous: o.Previous,
		TailLines: o.TailLines, LimitBytes: o.LimitBytes,
	}
	switch {
	case o.SinceTime != nil:
		out.SinceTime = o.SinceTime.Time
	case o.SinceSeconds != nil:
		out.SinceTime = now.Add(-time.Duration(*o.SinceSeconds) * time.Second)
	}
	return out
}

// flushWriter flushes every write to the client at once, so that a
// followed log arrives line by line; it remembers whether anything was
// written, after which the status can no longer change.
type flushWriter struct {
	w     http.ResponseWriter
	wrote bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	f.wrote = true
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	if err := http.NewResponseController(f.w).Flush(); err != nil {
		return n, fmt.Errorf("flush: %w", err)
	}
	return n, nil
}

package aci

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// Logs implements backend.ContainerIO. A snapshot comes from ACI's logs
// call; following, the previous run, sinceTime and limitBytes are passed
// to vnode's service when it offers logs-follow and logs-previous. Without
// them, sinceTime and limitBytes are applied here, and following or the
// previous run fail with backend.ErrNotSupported: ACI cannot.
func (b *Backend) Logs(ctx context.Context, pod backend.PodRef, container string, opts backend.LogOptions, w io.Writer) error {
	e, err := b.groupOf(pod)
	if err != nil {
		return err
	}
	extended := b.ext.has(wire.ExtLogsPrevious)
	if opts.Previous && !extended {
		return fmt.Errorf("logs of the previous run: %w: container instances keep the current run's log only", backend.ErrNotSupported)
	}
	if opts.Follow {
		if !b.ext.has(wire.ExtLogsFollow) {
			return fmt.Errorf("following logs: %w: container instances return a snapshot only", backend.ErrNotSupported)
		}
		return b.followLogs(ctx, e.group, container, logQuery(opts, extended), w)
	}
	if extended {
		return b.snapshotLogs(ctx, e.group, container, logQuery(opts, true), w)
	}
	// ACI: tail and timestamps only; sinceTime needs the timestamps.
	q := logQuery(backend.LogOptions{TailLines: opts.TailLines, Timestamps: opts.Timestamps || !opts.SinceTime.IsZero()}, false)
	var buf strings.Builder
	if err := b.snapshotLogs(ctx, e.group, container, q, &buf); err != nil {
		return err
	}
	return writeFiltered(w, buf.String(), opts)
}

// logQuery returns the logs call's query parameters; extended adds
// vnode's (previous, sinceTime, limitBytes).
func logQuery(opts backend.LogOptions, extended bool) url.Values {
	q := url.Values{}
	if opts.TailLines != nil {
		q.Set("tail", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if !extended {
		return q
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	if !opts.SinceTime.IsZero() {
		q.Set("sinceTime", opts.SinceTime.UTC().Format(time.RFC3339Nano))
	}
	if opts.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	return q
}

// snapshotLogs reads a log at once (the SDK's ListLogs; vnode's
// parameters travel as extra query parameters).
func (b *Backend) snapshotLogs(ctx context.Context, group, container string, q url.Values, w io.Writer) error {
	res, err := b.containers.ListLogs(withExtras(ctx, requestExtras{query: q}), b.cfg.ResourceGroup, group, container, nil)
	if err != nil {
		return classify(err, "read the log of "+group+"/"+container)
	}
	_, err = io.WriteString(w, deref(res.Content))
	return err
}

// followLogs streams a log as the service writes it (follow=true).
func (b *Backend) followLogs(ctx context.Context, group, container string, q url.Values, w io.Writer) error {
	q.Set("follow", "true")
	req, err := b.newRequest(ctx, http.MethodGet, b.groupPath(group)+"/containers/"+url.PathEscape(container)+"/logs", q)
	if err != nil {
		return err
	}
	azruntime.SkipBodyDownload(req)
	resp, err := b.do(req, "follow the log of "+group+"/"+container, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("follow the log of %s/%s: %w", group, container, err)
	}
	return nil
}

// writeFiltered applies sinceTime and limitBytes to a log read with
// timestamps when sinceTime is set, dropping them unless asked for. A last
// line without a newline stays so.
func writeFiltered(w io.Writer, log string, opts backend.LogOptions) error {
	limit := int64(-1)
	if opts.LimitBytes != nil {
		limit = *opts.LimitBytes
	}
	for line := range strings.SplitAfterSeq(log, "\n") {
		if line == "" {
			continue
		}
		if !opts.SinceTime.IsZero() {
			stamp, rest, _ := strings.Cut(line, " ")
			if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil && t.Before(opts.SinceTime) {
				continue
			}
			if !opts.Timestamps {
				line = rest
			}
		}
		if limit >= 0 && int64(len(line)) > limit {
			line = line[:limit]
		}
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
		if limit >= 0 {
			if limit -= int64(len(line)); limit == 0 {
				return nil
			}
		}
	}
	return nil
}

package aci

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// execBody is ACI's exec request plus vnode's argv.
type execBody struct {
	Command      string                                `json:"command"`
	TerminalSize *aci.ContainerExecRequestTerminalSize `json:"terminalSize,omitempty"`
	wire.ExecExtension
}

// Exec implements backend.ContainerIO. With the exec-argv extension the
// command keeps its argv; otherwise ACI gets one command string (argv
// joined with spaces, which ACI splits on white space: arguments with
// spaces cannot pass). A command that exits non-zero returns an error
// satisfying k8s.io/utils/exec.ExitError.
func (b *Backend) Exec(ctx context.Context, pod backend.PodRef, container string, cmd []string, s backend.Streams) error {
	e, err := b.groupOf(pod)
	if err != nil {
		return err
	}
	body := execBody{Command: strings.Join(cmd, " "), TerminalSize: &aci.ContainerExecRequestTerminalSize{Rows: ptr[int32](24), Cols: ptr[int32](80)}}
	if b.ext.has(wire.ExtExecArgv) {
		body.Argv = cmd
	}
	req, err := b.newRequest(ctx, http.MethodPost, b.groupPath(e.group)+"/containers/"+url.PathEscape(container)+"/exec", nil)
	if err != nil {
		return err
	}
	if err := azruntime.MarshalAsJSON(req, body); err != nil {
		return fmt.Errorf("exec in %s/%s: %w", e.group, container, err)
	}
	resp, err := b.do(req, "exec in "+e.group+"/"+container, http.StatusOK)
	if err != nil {
		return err
	}
	var res aci.ContainerExecResponse
	if err := azruntime.UnmarshalAsJSON(resp, &res); err != nil {
		return fmt.Errorf("exec in %s/%s: %w", e.group, container, err)
	}
	return b.session(ctx, deref(res.WebSocketURI), deref(res.Password), s)
}

// Attach implements backend.ContainerIO.
func (b *Backend) Attach(ctx context.Context, pod backend.PodRef, container string, s backend.Streams) error {
	e, err := b.groupOf(pod)
	if err != nil {
		return err
	}
	res, err := b.containers.Attach(ctx, b.cfg.ResourceGroup, e.group, container, nil)
	if err != nil {
		return classify(err, "attach to "+e.group+"/"+container)
	}
	return b.session(ctx, deref(res.WebSocketURI), deref(res.Password), s)
}

// session connects the streams to an exec or attach session: over
// Kubernetes' remote command protocol when the service offers it (separate
// stdout and stderr, resize, exit code), else over ACI's websocket.
func (b *Backend) session(ctx context.Context, uri, password string, s backend.Streams) error {
	if uri == "" {
		return fmt.Errorf("the service answered without a session URI")
	}
	if b.ext.has(wire.ExtRemoteCommand) {
		opts := remotecommand.StreamOptions{Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, Tty: s.TTY}
		if s.TTY && s.Resize != nil {
			opts.TerminalSizeQueue = sizeQueue{ctx: ctx, ch: s.Resize}
		}
		return StreamSession(ctx, uri, password, b.cfg.CAFile, opts)
	}
	return wsSession(ctx, uri, password, b.cfg.CAFile, s)
}

// sizeQueue feeds terminal sizes to client-go's executor.
type sizeQueue struct {
	ctx context.Context
	ch  <-chan backend.TerminalSize
}

// Next implements remotecommand.TerminalSizeQueue.
func (q sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case <-q.ctx.Done():
		return nil
	case sz, ok := <-q.ch:
		if !ok {
			return nil
		}
		return &remotecommand.TerminalSize{Width: sz.Width, Height: sz.Height}
	}
}

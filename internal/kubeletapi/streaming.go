package kubeletapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/vnode-io/vnode/internal/backend"
)

// exec serves /exec/{namespace}/{pod}[/{uid}]/{container}?command=...:
// the streams are upgraded (SPDY or WebSocket) by cri-streaming, as the
// kubelet does, and the command's exit code goes back on the error
// stream.
func (h *handler) exec(w http.ResponseWriter, r *http.Request) {
	s, name, opts, ok := h.streamTarget(w, r, "exec")
	if !ok {
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "exec needs a command (query parameter command, repeated for each argument)", http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, r, s, s.ref.Name, string(s.ref.UID), name, cmd, opts,
		h.cfg.StreamIdleTimeout, h.cfg.StreamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
}

// attach serves /attach/{namespace}/{pod}[/{uid}]/{container}.
func (h *handler) attach(w http.ResponseWriter, r *http.Request) {
	s, name, opts, ok := h.streamTarget(w, r, "attach")
	if !ok {
		return
	}
	remotecommand.ServeAttach(w, r, s, s.ref.Name, string(s.ref.UID), name, opts,
		h.cfg.StreamIdleTimeout, h.cfg.StreamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
}

// streamTarget checks an exec or attach request before its upgrade: the
// stream options (400), the pod and container (404) and the backend (501).
func (h *handler) streamTarget(w http.ResponseWriter, r *http.Request, what string) (*streamer, string, *remotecommand.Options, bool) {
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, "", nil, false
	}
	pod, name, cio, ok := h.containerTarget(w, r, what)
	if !ok {
		return nil, "", nil, false
	}
	return &streamer{io: cio, ref: podRef(pod)}, name, opts, true
}

// portForward serves /portForward/{namespace}/{pod}[/{uid}]; each
// forwarded connection becomes a call to the backend's PortForward.
func (h *handler) portForward(w http.ResponseWriter, r *http.Request) {
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pod, ok := h.pod(w, r)
	if !ok {
		return
	}
	cio, ok := h.containerIO(w, "port-forward")
	if !ok {
		return
	}
	s := &streamer{io: cio, ref: podRef(pod)}
	portforward.ServePortForward(w, r, s, pod.Name, string(pod.UID), opts,
		h.cfg.StreamIdleTimeout, h.cfg.StreamCreationTimeout, portforward.SupportedProtocols)
}

// streamer adapts backend.ContainerIO to cri-streaming's Executor,
// Attacher and PortForwarder for one pod, already looked up.
type streamer struct {
	io  backend.ContainerIO
	ref backend.PodRef
}

var (
	_ remotecommand.Executor    = (*streamer)(nil)
	_ remotecommand.Attacher    = (*streamer)(nil)
	_ portforward.PortForwarder = (*streamer)(nil)
)

// ExecInContainer implements remotecommand.Executor.
func (s *streamer) ExecInContainer(ctx context.Context, _, _, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	err := s.io.Exec(ctx, s.ref, container, cmd, streams(ctx, in, out, errOut, tty, resize))
	// cri-streaming reports an exit code only for an ExitError it can see
	// without unwrapping.
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr
	}
	return err
}

// AttachContainer implements remotecommand.Attacher.
func (s *streamer) AttachContainer(ctx context.Context, _, _, container string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return s.io.Attach(ctx, s.ref, container, streams(ctx, in, out, errOut, tty, resize))
}

// PortForward implements portforward.PortForwarder.
func (s *streamer) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	return s.io.PortForward(ctx, s.ref, port, stream)
}

// streams converts cri-streaming's streams to the backend's; streams the
// client did not ask for stay nil.
func streams(ctx context.Context, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) backend.Streams {
	s := backend.Streams{TTY: tty}
	if in != nil {
		s.Stdin = in
	}
	if out != nil {
		s.Stdout = out
	}
	if errOut != nil {
		s.Stderr = errOut
	}
	if resize != nil {
		sizes := make(chan backend.TerminalSize)
		s.Resize = sizes
		go func() {
			defer close(sizes)
			for {
				select {
				case size, ok := <-resize:
					if !ok {
						return
					}
					select {
					case sizes <- backend.TerminalSize{Width: size.Width, Height: size.Height}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return s
}

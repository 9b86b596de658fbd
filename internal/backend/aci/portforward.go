package aci

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/vnode-io/vnode/internal/backend"
)

// PortForward implements backend.ContainerIO by dialling the group's IP
// directly and copying both ways until either side closes. ACI has no
// port-forward call: the agent must route to the groups' subnet, as it
// does under `vnode up` (the bridge is on its host) and in an Azure VNet.
func (b *Backend) PortForward(ctx context.Context, pod backend.PodRef, port int32, stream io.ReadWriteCloser) error {
	e, err := b.groupOf(pod)
	if err != nil {
		return err
	}
	if e.state == nil || e.state.IP == "" {
		return fmt.Errorf("port-forward to pod %s/%s: the container group has no IP address yet", pod.Namespace, pod.Name)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(e.state.IP, strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("port-forward to pod %s/%s port %d: %w", pod.Namespace, pod.Name, port, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close(); _ = stream.Close() })
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, err = io.Copy(stream, conn)
	_ = stream.Close()
	_ = conn.Close()
	wg.Wait()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("port-forward to pod %s/%s port %d: %w", pod.Namespace, pod.Name, port, err)
	}
	return nil
}

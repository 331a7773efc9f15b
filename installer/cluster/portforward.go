package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward is a running port-forward from a loopback port to a port of one pod.
type Forward struct {
	// Addr is where to connect, e.g. "127.0.0.1:41235".
	Addr string
	// Pod is the pod the traffic goes to.
	Pod string

	cancel context.CancelFunc
	done   chan error
}

// Close stops forwarding and waits for the listener to close.
func (f *Forward) Close() error {
	f.cancel()
	err := <-f.done
	f.done <- err // later calls return at once
	return err
}

// PortForward listens on a free port of 127.0.0.1 and forwards each connection to port of target
// in namespace, through the API server (websocket, falling back to SPDY). target is "pod/NAME",
// "service/NAME" (or "svc/NAME"), or a bare pod name. For a Service, port is the Service port; the
// traffic goes to its target port on one Ready pod behind it (as kubectl port-forward does), so
// the forward ends if that pod goes away. Close the Forward when done; cancelling ctx also ends it.
func (c *Client) PortForward(ctx context.Context, namespace, target string, port int) (*Forward, error) {
	pod, podPort, err := c.resolveForwardTarget(ctx, namespace, target, port)
	if err != nil {
		return nil, fmt.Errorf("port-forwarding to %s/%s port %d: %w", namespace, target, port, err)
	}
	u := c.Kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	// A forward is a long-lived stream: no per-request timeout.
	stream := rest.CopyConfig(c.Config)
	stream.Timeout = 0
	rt, upgrader, err := spdy.RoundTripperFor(stream)
	if err != nil {
		return nil, fmt.Errorf("building the SPDY transport: %w", err)
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	wsDialer, err := portforward.NewSPDYOverWebsocketDialer(u, stream)
	if err != nil {
		return nil, fmt.Errorf("building the websocket dialer: %w", err)
	}
	dialer := portforward.NewFallbackDialer(wsDialer, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})

	fctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(fctx, dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", podPort)}, ready, io.Discard, io.Discard)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("setting up the port-forward to pod %s/%s: %w", namespace, pod, err)
	}
	done := make(chan error, 1)
	go func() { done <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		if err == nil {
			err = errors.New("the forwarder stopped before it was ready")
		}
		return nil, fmt.Errorf("port-forwarding to pod %s/%s port %d: %w", namespace, pod, podPort, err)
	case <-ctx.Done():
		cancel()
		<-done
		return nil, fmt.Errorf("port-forwarding to pod %s/%s port %d: %w", namespace, pod, podPort, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		cancel()
		<-done
		return nil, fmt.Errorf("reading the local port of the forward to pod %s/%s: %v", namespace, pod, err)
	}
	return &Forward{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0].Local), Pod: pod, cancel: cancel, done: done}, nil
}

// resolveForwardTarget turns target and port into a pod name and a port on that pod.
func (c *Client) resolveForwardTarget(ctx context.Context, namespace, target string, port int) (string, int, error) {
	kind, name, found := strings.Cut(target, "/")
	if !found {
		kind, name = "pod", target
	}
	switch kind {
	case "pod", "pods", "po":
		return name, port, nil
	case "service", "services", "svc":
	default:
		return "", 0, fmt.Errorf("unknown target kind %q (want pod/NAME or service/NAME)", kind)
	}
	svc, err := c.Kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("reading service %s: %w", name, err)
	}
	var sp *corev1.ServicePort
	var have []string
	for i := range svc.Spec.Ports {
		have = append(have, fmt.Sprint(svc.Spec.Ports[i].Port))
		if int(svc.Spec.Ports[i].Port) == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return "", 0, fmt.Errorf("service %s has no port %d (it has %s)", name, port, strings.Join(have, ", "))
	}
	if len(svc.Spec.Selector) == 0 {
		return "", 0, fmt.Errorf("service %s has no selector, so no pod to forward to", name)
	}
	pods, err := c.Kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String(),
	})
	if err != nil {
		return "", 0, fmt.Errorf("listing the pods of service %s: %w", name, err)
	}
	var ready []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && isPodReady(&p) {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return "", 0, fmt.Errorf("service %s has no ready pod (%d pods match its selector)", name, len(pods.Items))
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	pod := &ready[0]
	switch tp := sp.TargetPort; {
	case tp.Type == intstr.Int && tp.IntVal != 0:
		return pod.Name, int(tp.IntVal), nil
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, ctr := range pod.Spec.Containers {
			for _, cp := range ctr.Ports {
				if cp.Name == tp.StrVal {
					return pod.Name, int(cp.ContainerPort), nil
				}
			}
		}
		return "", 0, fmt.Errorf("pod %s has no container port named %q (target port of service %s)", pod.Name, tp.StrVal, name)
	default:
		return pod.Name, port, nil
	}
}

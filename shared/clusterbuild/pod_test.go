package clusterbuild

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http/httpproxy"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

func TestPodProxyEnv(t *testing.T) {
	tests := []struct {
		name  string
		proxy *httpproxy.Config
		want  []string // NAME=value, in order
	}{
		{name: "no proxy"},
		{
			name:  "all three",
			proxy: &httpproxy.Config{HTTPSProxy: "http://p:3128", HTTPProxy: "http://q:3128", NoProxy: ".svc,10.0.0.0/8"},
			want: []string{"HTTPS_PROXY=http://p:3128", "https_proxy=http://p:3128", "HTTP_PROXY=http://q:3128",
				"http_proxy=http://q:3128", "NO_PROXY=.svc,10.0.0.0/8", "no_proxy=.svc,10.0.0.0/8"},
		},
		{
			name:  "https only",
			proxy: &httpproxy.Config{HTTPSProxy: "http://p:3128"},
			want:  []string{"HTTPS_PROXY=http://p:3128", "https_proxy=http://p:3128"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cluster{opts: Options{BuilderImage: "b", Proxy: tt.proxy}}
			var got []string
			for _, e := range c.podFor(nil).Spec.Containers[0].Env {
				got = append(got, e.Name+"="+e.Value)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("env %q, want %q", got, tt.want)
			}
		})
	}
}

// A cluster of only control planes (kubeadm taints them) must run the
// builder, as ocne's own in-cluster build does.
func TestPodSchedulesOnTaintedNodes(t *testing.T) {
	c := &cluster{opts: Options{BuilderImage: "b", PullPolicy: corev1.PullAlways}}
	p := c.podFor(map[string]string{"kubernetes.io/arch": "arm64"})
	for _, taint := range []corev1.Taint{
		{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule},
		{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoSchedule},
	} {
		if !slices.ContainsFunc(p.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(klog.Background(), &taint, false) }) {
			t.Errorf("taint %s:%s is not tolerated: %v", taint.Key, taint.Effect, p.Spec.Tolerations)
		}
	}
	// Not evictions: a node that goes unreachable takes the build with it.
	if slices.ContainsFunc(p.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol.Effect != corev1.TaintEffectNoSchedule }) {
		t.Errorf("tolerations beyond NoSchedule: %v", p.Spec.Tolerations)
	}
	if p.Spec.NodeSelector["kubernetes.io/arch"] != "arm64" || p.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("node selector %v, pull policy %q", p.Spec.NodeSelector, p.Spec.Containers[0].ImagePullPolicy)
	}
}

func TestStuck(t *testing.T) {
	waiting := func(reason, msg string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name: "builder", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
		}}}}
	}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		wantPull bool
		want     string // in the message; "" for no error
	}{
		{name: "pending", pod: &corev1.Pod{}},
		{name: "creating", pod: waiting("ContainerCreating", "")},
		{name: "pull", pod: waiting("ErrImagePull", "rpc error:\n not found"), wantPull: true,
			want: "builder image reg/b:1 cannot be pulled: ErrImagePull: rpc error: not found"},
		{name: "back-off", pod: waiting("ImagePullBackOff", "Back-off pulling image"), wantPull: true, want: "ImagePullBackOff"},
		{name: "bad name", pod: waiting("InvalidImageName", "bad"), wantPull: true, want: "InvalidImageName"},
		{name: "crash", pod: waiting("CrashLoopBackOff", "back-off"), want: "CrashLoopBackOff: back-off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := stuck(tt.pod, "reg/b:1")
			if (err != nil) != (tt.want != "") {
				t.Fatalf("stuck: %v, want an error with %q", err, tt.want)
			}
			if err == nil {
				return
			}
			var pe *ImagePullError
			if errors.As(err, &pe) != tt.wantPull || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("stuck: %v (image pull error: %v), want %q", err, errors.As(err, &pe), tt.want)
			}
		})
	}
}

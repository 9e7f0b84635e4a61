// Package clusterbuild runs the builder as a pod in the current kubeconfig
// context and brings its result back: the in-cluster side of `create`.
//
// The pod is unprivileged (non-root, no host paths, all capabilities
// dropped, read-only root filesystem); it pulls the OCK image itself, so
// the image never crosses the user's machine, and it either pushes the
// result to a destination or serves it for the plugin to fetch through a
// port-forward, resuming with HTTP ranges if the connection drops.
package clusterbuild

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ocne-image/ocne-image/shared/builder/wire"
	"github.com/ocne-image/ocne-image/shared/kube"
)

// ManagedBy labels everything this package creates, for cleanup and audit.
const ManagedBy = "ocne-image"

// Options say what to build where.
type Options struct {
	Namespace    string
	BuilderImage string
	Source       string
	Arch         string
	Version      string
	Ref          string
	TLSVerify    bool
	// NoStaticDelta builds the image without a static delta.
	NoStaticDelta bool
	// PullPolicy is the builder image's; "" leaves it to the kubelet.
	PullPolicy corev1.PullPolicy
	// Proxy, if set, reaches the builder as HTTPS_PROXY, HTTP_PROXY and
	// NO_PROXY (both spellings) for its registry traffic. NoProxy is used
	// as it is: the caller adds what the pod must reach directly.
	Proxy *httpproxy.Config
	// Auth is a registry credentials file (auth.json); it reaches the pod
	// as a Secret.
	Auth []byte
	// RegistriesConf is a registries.conf(5) file (mirrors) for the pod's
	// pull; it reaches the pod as a ConfigMap.
	RegistriesConf []byte
	// Destination, if set, is where the pod pushes the result; nothing is
	// fetched then.
	Destination string
	// Output is the local file for the fetched result.
	Output string
	// StartTimeout bounds scheduling and pulling the builder image.
	StartTimeout time.Duration
	// ExtraArgs go to the builder as they are (debugging, fault tests).
	ExtraArgs []string
	Progress  Progress // the pod's pull of the source image
	Fetch     Progress // bringing the result back
	Log       io.Writer
}

// Progress is told how far the pod's pull and then the fetch have got.
type Progress interface {
	Start(total int64)
	Add(n int)
}

// Run builds in the cluster. Everything it created is deleted when it
// returns, whether it succeeded, failed or ctx was cancelled.
func Run(ctx context.Context, cfg *rest.Config, opts Options) (res *wire.Result, err error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 5 * time.Minute
	}
	c := &cluster{cs: cs, cfg: cfg, opts: opts}
	defer c.cleanup()
	if err := kube.EnsureNamespace(ctx, cs, opts.Namespace); err != nil {
		return nil, err
	}
	if opts.Auth != nil {
		if err := c.createSecret(ctx); err != nil {
			return nil, err
		}
	}
	if opts.RegistriesConf != nil {
		if err := c.createConfigMap(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.createPod(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Log, "Builder pod %s/%s started\n", opts.Namespace, c.pod)
	state, err := c.waitStarted(ctx)
	if err != nil {
		return nil, err
	}
	if state == podSucceeded { // pushed before we even looked
		return &wire.Result{Source: opts.Source, Arch: opts.Arch, Version: opts.Version}, nil
	}
	return c.follow(ctx)
}

type cluster struct {
	cs        kubernetes.Interface
	cfg       *rest.Config
	opts      Options
	pod       string
	secret    string
	configMap string
}

func (c *cluster) labels() map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": ManagedBy, "app.kubernetes.io/component": "builder"}
}

func (c *cluster) createSecret(ctx context.Context) error {
	s, err := c.cs.CoreV1().Secrets(c.opts.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ocne-image-auth-", Labels: c.labels()},
		Data:       map[string][]byte{"auth.json": c.opts.Auth},
	}, metav1.CreateOptions{})
	if err != nil {
		return kube.Explain(err, "create", "secrets")
	}
	c.secret = s.Name
	return nil
}

func (c *cluster) createConfigMap(ctx context.Context) error {
	cm, err := c.cs.CoreV1().ConfigMaps(c.opts.Namespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ocne-image-registries-", Labels: c.labels()},
		Data:       map[string]string{"registries.conf": string(c.opts.RegistriesConf)},
	}, metav1.CreateOptions{})
	if err != nil {
		return kube.Explain(err, "create", "configmaps")
	}
	c.configMap = cm.Name
	return nil
}

func (c *cluster) createPod(ctx context.Context) error {
	p, err := c.cs.CoreV1().Pods(c.opts.Namespace).Create(ctx, c.podFor(c.nodeSelector(ctx)), metav1.CreateOptions{})
	if err != nil {
		return kube.Explain(err, "create", "pods")
	}
	c.pod = p.Name
	return nil
}

// podFor is the builder pod, pinned by nodeSelector.
func (c *cluster) podFor(nodeSelector map[string]string) *corev1.Pod {
	o := c.opts
	args := []string{"--source", o.Source, "--arch", o.Arch, "--version", o.Version,
		"--tls-verify=" + strconv.FormatBool(o.TLSVerify), "--work-dir", wire.WorkDir,
		"--listen", ":" + strconv.Itoa(wire.Port)}
	if o.Ref != "" {
		args = append(args, "--ref", o.Ref)
	}
	if o.NoStaticDelta {
		// Only when off: a builder image older than the flag still runs.
		args = append(args, "--static-delta=false")
	}
	if o.Destination != "" {
		args = append(args, "--destination", o.Destination)
	}
	args = append(args, o.ExtraArgs...)
	no, yes := false, true
	uid := int64(65532)
	volumes := []corev1.Volume{
		{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	mounts := []corev1.VolumeMount{{Name: "work", MountPath: wire.WorkDir}, {Name: "tmp", MountPath: "/tmp"}}
	if c.secret != "" {
		volumes = append(volumes, corev1.Volume{Name: "auth", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: c.secret}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "auth", MountPath: "/auth", ReadOnly: true})
		args = append(args, "--authfile", "/auth/auth.json")
	}
	if c.configMap != "" {
		volumes = append(volumes, corev1.Volume{Name: "registries", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: c.configMap}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "registries", MountPath: "/registries", ReadOnly: true})
		args = append(args, "--registries-conf", "/registries/registries.conf")
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ocne-image-builder-", Labels: c.labels()},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			NodeSelector:                 nodeSelector,
			Tolerations:                  kube.ShortLivedTolerations(),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: volumes,
			Containers: []corev1.Container{{
				Name:            "builder",
				Image:           o.BuilderImage,
				ImagePullPolicy: o.PullPolicy,
				Args:            args,
				Env:             proxyEnv(o.Proxy),
				Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: wire.Port}},
				VolumeMounts:    mounts,
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: wire.PathReady, Port: intstr.FromInt32(wire.Port)}},
					PeriodSeconds: 1,
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
					// Peak RSS is ~70 MiB whatever the image size (see make bench).
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
				},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			}},
		},
	}
}

// proxyEnv spells each proxy setting both ways, as ocne's nodes do: Go
// reads either, curl and others only the lower-case http_proxy.
func proxyEnv(p *httpproxy.Config) []corev1.EnvVar {
	if p == nil {
		return nil
	}
	var env []corev1.EnvVar
	for _, v := range []struct{ name, value string }{
		{"HTTPS_PROXY", p.HTTPSProxy}, {"HTTP_PROXY", p.HTTPProxy}, {"NO_PROXY", p.NoProxy},
	} {
		if v.value != "" {
			env = append(env, corev1.EnvVar{Name: v.name, Value: v.value}, corev1.EnvVar{Name: strings.ToLower(v.name), Value: v.value})
		}
	}
	return env
}

// nodeSelector pins the pod to nodes of the target architecture, when the
// nodes say what they are (and we may read them).
func (c *cluster) nodeSelector(ctx context.Context) map[string]string {
	const key = "kubernetes.io/arch"
	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: key + "=" + c.opts.Arch, Limit: 1})
	if err != nil || len(nodes.Items) == 0 {
		return nil
	}
	return map[string]string{key: c.opts.Arch}
}

// cleanup deletes what Run created; it runs even after ctx is cancelled.
func (c *cluster) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	grace := int64(0)
	if c.pod != "" {
		c.cs.CoreV1().Pods(c.opts.Namespace).Delete(ctx, c.pod, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	}
	if c.secret != "" {
		c.cs.CoreV1().Secrets(c.opts.Namespace).Delete(ctx, c.secret, metav1.DeleteOptions{})
	}
	if c.configMap != "" {
		c.cs.CoreV1().ConfigMaps(c.opts.Namespace).Delete(ctx, c.configMap, metav1.DeleteOptions{})
	}
}

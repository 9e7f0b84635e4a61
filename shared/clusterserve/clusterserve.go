// Package clusterserve runs the archive server image inside Kubernetes: a
// Deployment of replicas behind a Service, with the Kickstart files from a
// ConfigMap and the Ignition files (which hold join tokens) from a Secret,
// all mounted beside the repository the way `podman run -v` mounts them.
//
// Everything is server-side applied under one field manager, so running it
// again updates in place, and labelled, so Delete finds exactly what it made.
package clusterserve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ocne-image/ocne-image/shared/archiveserver"
	"github.com/ocne-image/ocne-image/shared/kube"
	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
)

// FieldManager owns the fields this package applies.
const FieldManager = "ocne-image"

// Label keys on everything Apply creates; Delete selects on them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	managedBy      = "ocne-image"
	appName        = "ock-ostree"
)

// Where the files are mounted and served, beside the repository.
const (
	KickstartPath = layout.KsPath
	IgnitionPath  = layout.WebRoot + "/ignition"
	// The server listens above 1024: the pod runs as non-root with no
	// capabilities, so it may not bind port 80. The Service maps 80 to it.
	containerPort = 8080
	servicePort   = 80
	runAsUser     = 65532
	// drainDelay keeps a terminating replica answering until kube-proxy
	// has taken it out of the Service, so installs in progress see no
	// errors when a replica goes away (rollout, scale-down, drain).
	drainDelay = 5 * time.Second
)

// Options say what to serve and how.
type Options struct {
	Namespace string
	Name      string // names the Deployment, Service, ConfigMap and Secret
	Image     string
	Replicas  int32
	// ServiceType is ClusterIP, NodePort or LoadBalancer.
	ServiceType corev1.ServiceType
	NodePort    int32 // 0: allocated by the cluster
	// Kickstart returns the files for /ks/ once the address nodes reach the
	// server at is known (a generated Kickstart points at itself); nil for none.
	Kickstart func(base string) (map[string][]byte, error)
	// Ignition files for /ignition/; they hold join secrets, so they live
	// in a Secret.
	Ignition map[string][]byte
	// Address is the host nodes use for a NodePort service; "" takes the
	// first node's InternalIP.
	Address string
	Timeout time.Duration // for the rollout
	Log     io.Writer
}

// Result tells where nodes find what is served.
type Result struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Replicas  int32    `json:"replicas"`
	BaseURL   string   `json:"baseURL"`
	OSTreeURL string   `json:"ostreeURL"`
	Kickstart []string `json:"kickstart,omitempty"`
	Ignition  []string `json:"ignition,omitempty"`
	// InCluster is true when BaseURL only resolves inside the cluster
	// (ClusterIP).
	InCluster bool `json:"inCluster,omitempty"`
	// Answered says the repository answered at OSTreeURL from this machine
	// (which need not be on the nodes' network).
	Answered bool `json:"answered"`
}

// Apply creates or updates the server and waits until all replicas are
// ready. When it fails on a first deployment, it deletes what it created.
func Apply(ctx context.Context, cs kubernetes.Interface, opts Options) (res *Result, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	s := &server{cs: cs, opts: opts}
	_, err = cs.AppsV1().Deployments(opts.Namespace).Get(ctx, opts.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if err := kube.EnsureNamespace(ctx, cs, opts.Namespace); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil { // leave nothing half-made behind
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				Delete(ctx, cs, opts.Namespace, opts.Name)
			}
		}()
	case err != nil:
		return nil, kube.Explain(err, "get", "deployments")
	}
	svc, err := s.applyService(ctx)
	if err != nil {
		return nil, err
	}
	res, err = s.urls(ctx, svc)
	if err != nil {
		return nil, err
	}
	var ks map[string][]byte
	if opts.Kickstart != nil {
		if ks, err = opts.Kickstart(res.BaseURL); err != nil {
			return nil, err
		}
	}
	if err := s.applyFiles(ctx, ks); err != nil {
		return nil, err
	}
	for _, n := range slices.Sorted(maps.Keys(ks)) {
		res.Kickstart = append(res.Kickstart, res.BaseURL+"/ks/"+n)
	}
	for _, n := range slices.Sorted(maps.Keys(opts.Ignition)) {
		res.Ignition = append(res.Ignition, res.BaseURL+"/ignition/"+n)
	}
	if err := s.applyDeployment(ctx, ks); err != nil {
		return nil, err
	}
	if err := s.waitRolledOut(ctx); err != nil {
		return nil, err
	}
	if !res.InCluster {
		res.Answered = answers(ctx, res.OSTreeURL+"/config", answerTimeout)
	}
	return res, nil
}

// answerTimeout bounds how long Apply waits for the Service to answer once
// the pods are ready: kube-proxy programs a new Service within a second or
// two, and a machine off the nodes' network should not wait long.
const answerTimeout = 15 * time.Second

// answers polls url until it returns 200 OK.
func answers(ctx context.Context, url string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		if kube.Sleep(ctx, 250*time.Millisecond) != nil {
			return false
		}
	}
}

type server struct {
	cs   kubernetes.Interface
	opts Options
}

func (s *server) labels() map[string]string {
	return map[string]string{LabelManagedBy: managedBy, LabelName: appName, LabelInstance: s.opts.Name}
}

func (s *server) selector() map[string]string {
	return map[string]string{LabelName: appName, LabelInstance: s.opts.Name}
}

func (s *server) apply() metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
}

func (s *server) applyService(ctx context.Context) (*corev1.Service, error) {
	port := corev1ac.ServicePort().WithName("http").WithPort(servicePort).WithTargetPort(intstr.FromString("http")).WithProtocol(corev1.ProtocolTCP)
	if s.opts.NodePort != 0 {
		port = port.WithNodePort(s.opts.NodePort)
	}
	svc := corev1ac.Service(s.opts.Name, s.opts.Namespace).WithLabels(s.labels()).
		WithSpec(corev1ac.ServiceSpec().WithType(s.opts.ServiceType).WithSelector(s.selector()).WithPorts(port))
	got, err := s.cs.CoreV1().Services(s.opts.Namespace).Apply(ctx, svc, s.apply())
	if err != nil {
		if s.opts.NodePort != 0 && nodePortTaken(err) {
			return nil, &NodePortTakenError{Port: s.opts.NodePort}
		}
		return nil, kube.Explain(err, "apply", "services")
	}
	return got, nil
}

// NodePortTakenError is a node port another Service holds.
type NodePortTakenError struct{ Port int32 }

func (e *NodePortTakenError) Error() string {
	return fmt.Sprintf("node port %d is already used by another Service", e.Port)
}

// nodePortTaken reports the API server's refusal of a node port that is
// allocated: an Invalid status with a cause on a nodePort field. The
// cause's message is the only place Kubernetes says why (a port outside
// the node port range is refused the same way).
func nodePortTaken(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !apierrors.IsInvalid(err) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if strings.HasSuffix(c.Field, ".nodePort") && strings.HasSuffix(c.Message, "already allocated") {
			return true
		}
	}
	return false
}

// urls works out the address nodes reach the Service at.
func (s *server) urls(ctx context.Context, svc *corev1.Service) (*Result, error) {
	res := &Result{Namespace: s.opts.Namespace, Name: s.opts.Name, Replicas: s.opts.Replicas}
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		host := s.opts.Address
		if host == "" && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			host = s.waitLoadBalancer(ctx)
		}
		if host != "" && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			res.BaseURL = fmt.Sprintf("http://%s", host)
			break
		}
		if host == "" {
			var err error
			if host, err = s.nodeAddress(ctx); err != nil {
				return nil, err
			}
		}
		res.BaseURL = fmt.Sprintf("http://%s:%d", host, svc.Spec.Ports[0].NodePort)
	default:
		res.BaseURL = fmt.Sprintf("http://%s.%s.svc", s.opts.Name, s.opts.Namespace)
		res.InCluster = true
	}
	res.OSTreeURL = res.BaseURL + "/ostree"
	return res, nil
}

// waitLoadBalancer gives the load balancer controller a little time to
// assign an address; a cluster without one never does.
func (s *server) waitLoadBalancer(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		svc, err := s.cs.CoreV1().Services(s.opts.Namespace).Get(ctx, s.opts.Name, metav1.GetOptions{})
		if err == nil {
			for _, in := range svc.Status.LoadBalancer.Ingress {
				if in.IP != "" {
					return in.IP
				}
				if in.Hostname != "" {
					return in.Hostname
				}
			}
		}
		if kube.Sleep(ctx, time.Second) != nil {
			fmt.Fprintln(s.opts.Log, "no load balancer address yet: printing the node port instead")
			return ""
		}
	}
}

func (s *server) nodeAddress(ctx context.Context) (string, error) {
	nodes, err := s.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", &NodeAddressError{Err: kube.Explain(err, "list", "nodes")}
	}
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				return a.Address, nil
			}
		}
	}
	return "", &NodeAddressError{}
}

// NodeAddressError says no node address was found for a node port: none
// has an InternalIP, or (Err) the nodes could not be listed.
type NodeAddressError struct{ Err error }

func (e *NodeAddressError) Error() string {
	if e.Err == nil {
		return "no node has an InternalIP address"
	}
	return "find a node address for the node port: " + e.Err.Error()
}

func (e *NodeAddressError) Unwrap() error { return e.Err }

// applyFiles stores the Kickstart files in a ConfigMap and the Ignition
// files in a Secret (always, even empty, so the pods' volumes resolve).
func (s *server) applyFiles(ctx context.Context, ks map[string][]byte) error {
	cm := corev1ac.ConfigMap(s.opts.Name+"-ks", s.opts.Namespace).WithLabels(s.labels()).WithBinaryData(ks)
	if _, err := s.cs.CoreV1().ConfigMaps(s.opts.Namespace).Apply(ctx, cm, s.apply()); err != nil {
		return kube.Explain(err, "apply", "configmaps")
	}
	sec := corev1ac.Secret(s.opts.Name+"-ignition", s.opts.Namespace).WithLabels(s.labels()).WithData(s.opts.Ignition)
	if _, err := s.cs.CoreV1().Secrets(s.opts.Namespace).Apply(ctx, sec, s.apply()); err != nil {
		return kube.Explain(err, "apply", "secrets")
	}
	return nil
}

func (s *server) applyDeployment(ctx context.Context, ks map[string][]byte) error {
	no, yes := false, true
	probe := func(path string) *corev1ac.ProbeApplyConfiguration {
		return corev1ac.Probe().WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString("http"))).
			WithPeriodSeconds(5).WithTimeoutSeconds(2)
	}
	container := corev1ac.Container().WithName("server").WithImage(s.opts.Image).
		WithArgs("--root", layout.WebRoot, "--listen", fmt.Sprintf(":%d", containerPort),
			"--drain-delay", drainDelay.String()).
		WithPorts(corev1ac.ContainerPort().WithName("http").WithContainerPort(containerPort).WithProtocol(corev1.ProtocolTCP)).
		// Ready once the repository itself answers, not just the process.
		// A crashed server leaves the Service within ~3 s; a busy one is not
		// dropped for one slow answer, which under a fleet's load could take
		// every replica out at once (see make loadtest).
		WithReadinessProbe(probe("/ostree/config").WithPeriodSeconds(1).WithFailureThreshold(3).WithTimeoutSeconds(3)).
		WithLivenessProbe(probe(archiveserver.HealthPath).WithFailureThreshold(3)).
		WithResources(corev1ac.ResourceRequirements().
			WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("32Mi")}).
			WithLimits(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")})).
		WithSecurityContext(corev1ac.SecurityContext().WithAllowPrivilegeEscalation(no).WithReadOnlyRootFilesystem(yes).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL"))).
		WithVolumeMounts(
			corev1ac.VolumeMount().WithName("ks").WithMountPath(KickstartPath).WithReadOnly(true),
			corev1ac.VolumeMount().WithName("ignition").WithMountPath(IgnitionPath).WithReadOnly(true),
			// The root is read-only; static delta parts are rebuilt here
			// (see archiveserver.Options.PartCacheDir).
			corev1ac.VolumeMount().WithName("tmp").WithMountPath("/tmp"))
	pod := corev1ac.PodSpec().
		WithTerminationGracePeriodSeconds(int64((drainDelay+archiveserver.DefaultShutdownTimeout+5*time.Second)/time.Second)).
		WithAutomountServiceAccountToken(no).
		WithEnableServiceLinks(no).
		WithSecurityContext(corev1ac.PodSecurityContext().WithRunAsNonRoot(yes).WithRunAsUser(runAsUser).
			WithRunAsGroup(runAsUser).WithFSGroup(runAsUser).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithContainers(container).
		WithTolerations(controlPlaneToleration()).
		WithAffinity(preferWorkers()).
		WithVolumes(
			corev1ac.Volume().WithName("ks").WithConfigMap(corev1ac.ConfigMapVolumeSource().WithName(s.opts.Name+"-ks")),
			// Readable by the server's group only: the files hold join tokens.
			corev1ac.Volume().WithName("ignition").WithSecret(corev1ac.SecretVolumeSource().WithSecretName(s.opts.Name+"-ignition").WithDefaultMode(0o440)),
			// The server keeps at most DefaultPartCache of rebuilt parts
			// there; the limit tells the kubelet, which evicts a pod beyond it.
			corev1ac.Volume().WithName("tmp").WithEmptyDir(corev1ac.EmptyDirVolumeSource().
				WithSizeLimit(*resource.NewQuantity(archiveserver.DefaultPartCache+256<<20, resource.BinarySI))))
	dep := appsv1ac.Deployment(s.opts.Name, s.opts.Namespace).WithLabels(s.labels()).
		WithSpec(appsv1ac.DeploymentSpec().WithReplicas(s.opts.Replicas).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(s.selector())).
			WithTemplate(corev1ac.PodTemplateSpec().WithLabels(s.labels()).
				// A changed file rolls the pods at once instead of waiting for
				// the kubelet's periodic volume refresh.
				WithAnnotations(map[string]string{"ocne-image/files-hash": filesHash(ks, s.opts.Ignition)}).
				WithSpec(pod)))
	if _, err := s.cs.AppsV1().Deployments(s.opts.Namespace).Apply(ctx, dep, s.apply()); err != nil {
		return kube.Explain(err, "apply", "deployments")
	}
	return nil
}

// Nodes are installed from this server while the cluster may still be all
// control planes (tainted, in clusters planned with workers), so it may
// run there; it tolerates nothing else: a Deployment belongs on nodes that
// are ready and not cordoned. With workers it prefers them, keeping a
// fleet's downloads off the API server's nodes.
func controlPlaneToleration() *corev1ac.TolerationApplyConfiguration {
	return corev1ac.Toleration().WithKey(kube.ControlPlaneRole).WithOperator(corev1.TolerationOpExists).WithEffect(corev1.TaintEffectNoSchedule)
}

func preferWorkers() *corev1ac.AffinityApplyConfiguration {
	notControlPlane := corev1ac.NodeSelectorTerm().WithMatchExpressions(
		corev1ac.NodeSelectorRequirement().WithKey(kube.ControlPlaneRole).WithOperator(corev1.NodeSelectorOpDoesNotExist))
	return corev1ac.Affinity().WithNodeAffinity(corev1ac.NodeAffinity().WithPreferredDuringSchedulingIgnoredDuringExecution(
		corev1ac.PreferredSchedulingTerm().WithWeight(100).WithPreference(notControlPlane)))
}

// waitRolledOut waits until every replica runs the current template and is
// ready, failing early on what waiting cannot fix (an image that cannot be
// pulled, a crashing server).
func (s *server) waitRolledOut(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var last string
	for {
		d, err := s.cs.AppsV1().Deployments(s.opts.Namespace).Get(ctx, s.opts.Name, metav1.GetOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return s.timedOut(last)
			}
			return kube.Explain(err, "get", "deployments")
		}
		if rolledOut(d) {
			return nil
		}
		pods, err := s.cs.CoreV1().Pods(s.opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(metav1.SetAsLabelSelector(s.selector()))})
		if err == nil {
			for _, p := range pods.Items {
				if err := podFailure(&p, s.opts.Image); err != nil {
					return err
				}
				if desc := waitingFor(&p); desc != "" {
					last = desc
				}
			}
		}
		if kube.Sleep(ctx, time.Second) != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return s.timedOut(last)
			}
			return ctx.Err()
		}
	}
}

// waitTerminated waits until no replaced pod of the server is left.
func (s *server) waitTerminated(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(metav1.SetAsLabelSelector(s.selector()))}
	for {
		pods, err := s.cs.CoreV1().Pods(s.opts.Namespace).List(ctx, sel)
		if err != nil {
			return kube.Explain(err, "list", "pods")
		}
		if !slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil }) {
			return nil
		}
		if err := kube.Sleep(ctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("replaced pods of %s/%s still running after %s: %w", s.opts.Namespace, s.opts.Name, s.opts.Timeout, err)
		}
	}
}

func (s *server) timedOut(last string) error {
	msg := fmt.Sprintf("deployment %s/%s not ready within %s", s.opts.Namespace, s.opts.Name, s.opts.Timeout)
	if last != "" {
		msg += ": " + last
	}
	return errors.New(msg + "; see kubectl -n " + s.opts.Namespace + " describe deployment " + s.opts.Name)
}

func rolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == want &&
		st.Replicas == want && st.AvailableReplicas == want && st.ReadyReplicas == want
}

// ImagePullError says the nodes cannot pull the archive server image.
type ImagePullError struct{ Image, Reason, Message string }

func (e *ImagePullError) Error() string {
	return fmt.Sprintf("image %s cannot be pulled: %s: %s", e.Image, e.Reason, e.Message)
}

func podFailure(p *corev1.Pod, image string) error {
	for _, c := range p.Status.ContainerStatuses {
		w := c.State.Waiting
		if w == nil || !kube.Stuck(w.Reason) {
			continue
		}
		switch {
		case kube.ImagePullFailure(w.Reason):
			return &ImagePullError{Image: image, Reason: w.Reason, Message: kube.OneLine(w.Message)}
		case w.Reason == "CrashLoopBackOff":
			msg := ""
			if t := c.LastTerminationState.Terminated; t != nil {
				msg = fmt.Sprintf(" (exit %d: %s)", t.ExitCode, kube.OneLine(t.Message))
			}
			return fmt.Errorf("the archive server in pod %s keeps crashing%s; is %s an archive server image?", p.Name, msg, image)
		}
		return fmt.Errorf("pod %s: %s: %s", p.Name, w.Reason, kube.OneLine(w.Message))
	}
	return nil
}

func waitingFor(p *corev1.Pod) string {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue && cond.Message != "" {
			return "pod " + p.Name + " unschedulable: " + kube.OneLine(cond.Message)
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil {
			return "pod " + p.Name + ": " + w.Reason
		}
		if !c.Ready && c.State.Running != nil {
			return "pod " + p.Name + ": running, not ready (is /ostree/config in the image?)"
		}
	}
	return ""
}

// filesHash identifies the served files' content.
func filesHash(sets ...map[string][]byte) string {
	h := sha256.New()
	for i, set := range sets {
		for _, k := range slices.Sorted(maps.Keys(set)) {
			fmt.Fprintf(h, "%d\x00%s\x00%d\x00", i, k, len(set[k]))
			h.Write(set[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Delete removes everything Apply made for name, found by its labels, and
// says what it deleted.
func Delete(ctx context.Context, cs kubernetes.Interface, namespace, name string) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(metav1.SetAsLabelSelector(map[string]string{
		LabelManagedBy: managedBy, LabelName: appName, LabelInstance: name}))}
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &bg}
	var deleted []string
	var errs []error
	note := func(kind, n string, err error) {
		switch {
		case err == nil:
			deleted = append(deleted, kind+"/"+n)
		case !apierrors.IsNotFound(err):
			errs = append(errs, kube.Explain(err, "delete", kind+"s"))
		}
	}
	if l, err := cs.AppsV1().Deployments(namespace).List(ctx, sel); err != nil {
		errs = append(errs, kube.Explain(err, "list", "deployments"))
	} else {
		for _, o := range l.Items {
			note("deployment", o.Name, cs.AppsV1().Deployments(namespace).Delete(ctx, o.Name, del))
		}
	}
	if l, err := cs.CoreV1().Services(namespace).List(ctx, sel); err != nil {
		errs = append(errs, kube.Explain(err, "list", "services"))
	} else {
		for _, o := range l.Items {
			note("service", o.Name, cs.CoreV1().Services(namespace).Delete(ctx, o.Name, del))
		}
	}
	if l, err := cs.CoreV1().ConfigMaps(namespace).List(ctx, sel); err != nil {
		errs = append(errs, kube.Explain(err, "list", "configmaps"))
	} else {
		for _, o := range l.Items {
			note("configmap", o.Name, cs.CoreV1().ConfigMaps(namespace).Delete(ctx, o.Name, del))
		}
	}
	if l, err := cs.CoreV1().Secrets(namespace).List(ctx, sel); err != nil {
		errs = append(errs, kube.Explain(err, "list", "secrets"))
	} else {
		for _, o := range l.Items {
			note("secret", o.Name, cs.CoreV1().Secrets(namespace).Delete(ctx, o.Name, del))
		}
	}
	return deleted, errors.Join(errs...)
}

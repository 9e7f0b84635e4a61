// Package kubeflags is the command layer's side of kubectl's cluster flags
// (--kubeconfig, --context, -n ...): registering them, the kubeconfig the
// configuration files default to, and the cluster they select. It is apart
// from package cli so that podman-ocne, which talks to no cluster, does not
// link client-go.
package kubeflags

import (
	"errors"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/kube"
)

// Add adds kubectl's cluster flags to c, and a hint for ocne's -k, which
// kubectl does not have.
func Add(c *cobra.Command) *genericclioptions.ConfigFlags {
	k := genericclioptions.NewConfigFlags(true)
	k.AddFlags(c.Flags())
	cli.HintFlag(c, "k", "k", func(v string) string {
		return "-k is not a flag here (it is ocne's shorthand for --kubeconfig): use --kubeconfig " + v
	})
	return k
}

// Clients are a command's way to the cluster the flags select. Complete
// builds them (NewClients); a test sets a literal with a fake instead.
type Clients struct {
	Config *rest.Config
	Kube   kubernetes.Interface

	err   error // why the flags select no usable cluster
	probe bool  // Reachable asks the API server; a fake has none to ask
}

// NewClients builds the clients of the kubeconfig context the flags
// select. It sends no request, and a kubeconfig it cannot use is an error
// of Reachable, as client-go's deferred loading does: a command reports
// its bad flags (Validate) before a missing kubeconfig or a cluster that
// is down (Run).
func NewClients(flags *genericclioptions.ConfigFlags) *Clients {
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err == nil && raw.CurrentContext == "" && (flags.APIServer == nil || *flags.APIServer == "") &&
		(flags.Context == nil || *flags.Context == "") {
		// client-go would otherwise try http://localhost:8080.
		return &Clients{err: errors.New("no kubeconfig: set KUBECONFIG or pass --kubeconfig")}
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return &Clients{err: errors.New(kube.OneLine(err.Error()))}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return &Clients{err: err}
	}
	return &Clients{Config: cfg, Kube: cs, probe: true}
}

// Reachable says why the flags select no usable cluster, or checks that
// its API server answers (kube.Probe), so that one that is down fails
// fast, in one line. A fake always answers.
func (c *Clients) Reachable() error {
	if c.err != nil {
		return c.err
	}
	if !c.probe {
		return nil
	}
	return kube.Probe(c.Config)
}

// DefaultKubeconfig applies kube.Kubeconfig to the flags' --kubeconfig.
// Call it before the flags build a client: they keep the first one.
func DefaultKubeconfig(flags *genericclioptions.ConfigFlags, fallback string) {
	if flags.KubeConfig != nil {
		*flags.KubeConfig = kube.Kubeconfig(*flags.KubeConfig, fallback)
	}
}

// Namespace is the --namespace flag's value, else def. (Not the
// kubeconfig context's namespace: our objects go where the docs say.)
func Namespace(flags *genericclioptions.ConfigFlags, def string) string {
	if flags.Namespace != nil && *flags.Namespace != "" {
		return *flags.Namespace
	}
	return def
}

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

// Reachable returns the REST config of the kubeconfig context the flags
// select if its API server answers (kube.Probe).
func Reachable(flags *genericclioptions.ConfigFlags) (*rest.Config, error) {
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err == nil && raw.CurrentContext == "" && (flags.APIServer == nil || *flags.APIServer == "") &&
		(flags.Context == nil || *flags.Context == "") {
		// client-go would otherwise try http://localhost:8080.
		return nil, errors.New("no kubeconfig: set KUBECONFIG or pass --kubeconfig")
	}
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, errors.New(kube.OneLine(err.Error()))
	}
	if err := kube.Probe(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
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

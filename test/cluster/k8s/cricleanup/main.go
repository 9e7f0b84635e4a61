// Command cricleanup stops and removes every pod sandbox (and so every
// container) of a CRI runtime, the way crictl rmp -af does: the runtime then
// runs the CNI DEL of each pod, releasing its address, its portmap rules and
// its network namespace. down.sh runs it before stopping containerd.
//
//	cricleanup unix:///path/to/containerd.sock
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cricleanup unix:///path/to/cri.sock")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "cricleanup:", err)
		os.Exit(1)
	}
}

func run(endpoint string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("list pod sandboxes: %w", err)
	}
	var failed error
	for _, p := range pods.Items {
		name := p.Metadata.Namespace + "/" + p.Metadata.Name
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			failed = fmt.Errorf("stop pod %s: %w", name, err)
			fmt.Fprintln(os.Stderr, "cricleanup:", failed)
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			failed = fmt.Errorf("remove pod %s: %w", name, err)
			fmt.Fprintln(os.Stderr, "cricleanup:", failed)
			continue
		}
		fmt.Printf("removed pod %s (%.12s)\n", name, p.Id)
	}
	return failed
}

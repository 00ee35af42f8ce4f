// Command kubetool does the few things scripts/kube.sh needs from a control plane
// without kubectl: it makes certificates and a kubeconfig, waits for the API server,
// creates simulated nodes for kwok and applies CRDs server-side.
//
//	kubetool certs DIR PORT             CA, serving, admin and service-account keys; DIR/kubeconfig
//	kubetool wait KUBECONFIG TIMEOUT [sa] until /readyz answers ok (and the default service account exists)
//	kubetool nodes KUBECONFIG N TIMEOUT create kwok-node-0..N-1 and wait until they are Ready
//	kubetool apply KUBECONFIG TIMEOUT FILE...  server-side apply every CRD in FILEs, wait Established
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kubetool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: kubetool certs DIR PORT | wait KUBECONFIG TIMEOUT | nodes KUBECONFIG N TIMEOUT | apply KUBECONFIG TIMEOUT FILE...")
	}
	switch args[0] {
	case "certs":
		port, err := strconv.Atoi(args[2])
		if err != nil {
			return fmt.Errorf("certs: port %q: %w", args[2], err)
		}
		return writeCerts(args[1], port)
	case "wait":
		ctx, cancel, err := withTimeout(args[2])
		if err != nil {
			return err
		}
		defer cancel()
		return waitReady(ctx, args[1], len(args) > 3 && args[3] == "sa")
	case "nodes":
		if len(args) != 4 {
			return fmt.Errorf("usage: kubetool nodes KUBECONFIG N TIMEOUT")
		}
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return fmt.Errorf("nodes: count %q: %w", args[2], err)
		}
		ctx, cancel, err := withTimeout(args[3])
		if err != nil {
			return err
		}
		defer cancel()
		return createNodes(ctx, args[1], n)
	case "apply":
		ctx, cancel, err := withTimeout(args[2])
		if err != nil {
			return err
		}
		defer cancel()
		return applyCRDs(ctx, args[1], args[3:])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func withTimeout(s string) (context.Context, context.CancelFunc, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, nil, fmt.Errorf("timeout %q: %w", s, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	return ctx, cancel, nil
}

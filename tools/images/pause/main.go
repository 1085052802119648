// pause is the sandbox ("infra") process of every pod on the berth test node:
// the stand-in for registry.k8s.io/pause, which cannot be pulled here.
//
// Like the upstream pause.c it is PID 1 of the pod's namespaces, so it reaps
// every orphan re-parented to it (SIGCHLD -> wait4(-1, WNOHANG) until none is
// left), and it otherwise sleeps until SIGINT or SIGTERM, then exits 0.
// `pause -v` prints its version. Standard library only; built with
// CGO_ENABLED=0 so the binary runs in a FROM-scratch image.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version matches the upstream pause image tag this stands in for.
const version = "3.10"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Printf("pause.go %s (berth)\n", version)
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", sig)
		os.Exit(0)
	}
}

// reap collects every exited child; signals coalesce, so one SIGCHLD may
// stand for several exits.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

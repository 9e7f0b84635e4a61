// Command pause is the test cluster's sandbox ("pause") process: it holds a
// pod's namespaces, sleeping until told to stop. No registry on the internet
// is reachable from CI, so up.sh builds it and imports it into containerd.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}

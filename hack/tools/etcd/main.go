// Command etcd is etcd's own server main, built from the Go module proxy so
// that tests and the demo run a real etcd without any download outside it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}

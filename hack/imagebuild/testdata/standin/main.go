// Command standin stands in for the manager in imagebuild's tests: the same
// pipeline (version stamping, static cross-build) in a fraction of the time.
package main

import (
	"flag"
	"fmt"

	"github.com/cloudop/cloudop/internal/version"
)

func main() {
	v := flag.Bool("version", false, "print the version")
	flag.Parse()
	if *v {
		fmt.Println(version.String("manager"))
	}
}

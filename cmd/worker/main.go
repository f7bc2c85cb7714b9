// Command worker is casebridge's long-running SQS consumer (ECS); see README.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "worker: not wired yet")
	os.Exit(2)
}

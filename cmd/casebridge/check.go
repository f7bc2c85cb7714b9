package main

import (
	"context"
	"io"
	"os"

	"github.com/casebridge/casebridge/internal/checkcmd"
)

// checkCmd validates message files offline, exactly as the consumer would
// map them (internal/checkcmd); it needs no AWS access.
func checkCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return checkcmd.Run(ctx, args, stdin, stdout, stderr, os.Getenv)
}

// Command iam is the Gaia IAM server and its management commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gaia-platform/iam/internal/cli"
)

func main() {
	// SIGTERM or SIGINT cancels ctx: iam serve then shuts down gracefully.
	// A second signal ends the process at once (Go's default) instead of
	// waiting out the shutdown grace.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := cli.Run(ctx, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

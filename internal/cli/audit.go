package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/audit"
)

func (c *cli) auditVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check the audit trail's hash chain: prints `ok N events`, or names the first broken link and exits 1",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			n, err := audit.Verify(ctx, a.Store.AuditChain)
			var broken *audit.BrokenLinkError
			if errors.As(err, &broken) {
				return fmt.Errorf("%w (%d events before it verify)", err, n)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "ok %d events\n", n)
			return nil
		}),
	}
}

func (c *cli) auditTailCmd() *cobra.Command {
	var q audit.TailQuery
	var follow bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the newest audit events, oldest first, one JSON object per line; --follow keeps printing new ones",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			if q.Limit < 1 || q.Limit > 10000 {
				return errors.New("--lines must be between 1 and 10000")
			}
			if interval <= 0 {
				return errors.New("--interval must be positive")
			}
			actor, err := a.Users.Actor(ctx, q.Actor)
			if err != nil {
				return err
			}
			q.Actor, q.Last = actor, true
			return c.tail(ctx, a, q, follow, interval)
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep polling for new events until interrupted")
	cmd.Flags().StringVar(&q.Actor, "actor", "", "only events of this actor: a username, or an actor as recorded (user:<id>, cli:<os user>, anonymous)")
	cmd.Flags().StringVar(&q.Type, "type", "", "only events of this action (auth.login.failed) or under it (auth.login)")
	cmd.Flags().IntVarP(&q.Limit, "lines", "n", 20, "how many of the newest events to print first")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "with --follow, how often to look for new events")
	return cmd
}

// tail prints the newest events q selects, then, following, each new one
// as it appears, until ctx ends.
func (c *cli) tail(ctx context.Context, a *app.App, q audit.TailQuery, follow bool, interval time.Duration) error {
	enc := json.NewEncoder(c.Out)
	for {
		events, err := a.Store.AuditTail(ctx, q)
		if err != nil {
			if follow && ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range events {
			if err := enc.Encode(eventJSON(e)); err != nil {
				return err
			}
			q.After = e.ID
		}
		if !follow {
			return nil
		}
		q.Last, q.Limit = false, 1000
		if len(events) == q.Limit {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// eventJSON is an event as `iam audit list` and `iam audit tail` print it.
func eventJSON(e audit.Stored) map[string]any {
	return map[string]any{
		"id": e.ID, "at": e.At.UTC().Format(time.RFC3339Nano), "actor": e.Actor, "action": e.Action,
		"target": e.Target, "ip": e.IP, "details": e.Details,
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/tokens"
)

func (c *cli) sessionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "session", Short: "See and end users' sessions (a login's chain of refresh tokens)"}

	list := &cobra.Command{
		Use:   "list USERNAME",
		Short: "List a user's sessions that can still be refreshed, newest first",
		Args:  cobra.ExactArgs(1),
	}
	c.flags.AddSessionFlags(list.Flags())
	list.RunE = c.withApp(func(ctx context.Context, a *app.App, args []string) error {
		idle, err := c.flags.RefreshIdleTimeout()
		if err != nil {
			return err
		}
		u, err := a.Users.Lookup(ctx, args[0])
		if err != nil {
			return err
		}
		families, err := sessions(a, idle).Active(ctx, u.ID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "SESSION\tCREATED\tLAST USED\tEXPIRES")
		for _, f := range families {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", f.ID, stamp(f.CreatedAt), stamp(f.LastUsedAt), stamp(f.ExpiresAt))
		}
		return w.Flush()
	})

	end := &cobra.Command{
		Use:   "end USERNAME SESSION",
		Short: "End one of a user's sessions: its refresh token stops working (its access tokens expire as usual)",
		Args:  cobra.ExactArgs(2),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			u, err := a.Users.Lookup(ctx, args[0])
			if err != nil {
				return err
			}
			id, err := uuid.Parse(args[1])
			if err != nil {
				return fmt.Errorf("%q is not a session id: iam session list %s shows them", args[1], u.Username)
			}
			// Ending a session reads no policy.
			err = sessions(a, 0).End(ctx, actor(), u.ID, id, "")
			if errors.Is(err, tokens.ErrSessionNotFound) {
				return fmt.Errorf("%w: %s is not an active session of %s", err, id, u.Username)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "ended session %s of %s\n", id, u.Username)
			return nil
		}),
	}
	cmd.AddCommand(list, end)
	return cmd
}

// sessions is the refresh families of a, as a server whose sessions go
// idle after idle sees them.
func sessions(a *app.App, idle time.Duration) *tokens.Sessions {
	return tokens.NewSessions(a.Store, tokens.SessionPolicy{IdleTimeout: idle}, a.Now)
}

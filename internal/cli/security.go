package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/throttle"
)

func (c *cli) securityCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "security", Short: "See and lift the locks failed logins put on account names and client IPs"}

	var ip, user string
	unblock := &cobra.Command{
		Use:   "unblock (--ip ADDRESS | --user USERNAME)",
		Short: "Lift the lock on a client IP or an account name and forget its failed logins",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			kind, subject, err := unblockSubject(ip, user)
			if err != nil {
				return err
			}
			// Unblocking reads no policy: any will do.
			changed, err := a.Throttle(throttle.DefaultPolicy).Unblock(ctx, actor(), kind, subject)
			if err != nil {
				return err
			}
			if !changed {
				fmt.Fprintf(c.Out, "%s %s was not blocked and had no failed logins\n", kind, subject)
				return nil
			}
			fmt.Fprintf(c.Out, "unblocked %s %s\n", kind, subject)
			return nil
		}),
	}
	unblock.Flags().StringVar(&ip, "ip", "", "the client IP to unblock")
	unblock.Flags().StringVar(&user, "user", "", "the account name to unlock (whether or not the account exists)")

	blocks := &cobra.Command{
		Use:   "blocks",
		Short: "List the account names and client IPs locked now",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			bs, err := a.Throttle(throttle.DefaultPolicy).Blocks(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tSUBJECT\tUNTIL\tLOCKS IN A ROW")
			for _, b := range bs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", b.Kind, b.Subject, b.Until.UTC().Format(time.RFC3339), b.Streak)
			}
			return w.Flush()
		}),
	}
	cmd.AddCommand(unblock, blocks)
	return cmd
}

// unblockSubject is what `iam security unblock` was asked to unblock.
func unblockSubject(ip, user string) (throttle.Kind, string, error) {
	switch {
	case (ip == "") == (user == ""):
		return "", "", errors.New("give exactly one of --ip ADDRESS and --user USERNAME")
	case user != "":
		return throttle.KindUser, user, nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "", "", fmt.Errorf("--ip %q is not an IP address", ip)
	}
	return throttle.KindIP, a.Unmap().String(), nil
}

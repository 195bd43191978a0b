package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/authz"
)

func (c *cli) seedCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Declare permissions, roles and user roles from a YAML file (idempotent, all or nothing)",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			if file == "" {
				return fmt.Errorf("--file is required")
			}
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("seed file: %w", err)
			}
			defer f.Close()
			seed, err := authz.ParseSeed(f)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			report, err := a.RBAC.ApplySeed(ctx, actor(), seed, false)
			if err != nil {
				return fmt.Errorf("%s: %w (nothing was applied)", file, err)
			}
			for _, line := range report.Changes {
				fmt.Fprintln(c.Out, line)
			}
			fmt.Fprintf(c.Out, "seed applied: %d changes\n", len(report.Changes))
			return nil
		}),
	}
	cmd.Flags().StringVar(&file, "file", "", "seed file (YAML)")
	return cmd
}

func (c *cli) roleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Manage roles and their permissions"}
	change := func(use, short string, grant bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " ROLE PERMISSION",
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
				do, msg := a.RBAC.Revoke, "revoked %s from role %s"
				if grant {
					do, msg = a.RBAC.Grant, "granted %s to role %s"
				}
				changed, err := do(ctx, actor(), args[0], args[1])
				if err != nil {
					return err
				}
				out := fmt.Sprintf(msg, args[1], args[0])
				if !changed {
					out = "nothing to do: " + out + " already"
				}
				fmt.Fprintln(c.Out, out)
				return nil
			}),
		}
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List roles and their permissions",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			roles, err := a.RBAC.Roles(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ROLE\tPERMISSIONS\tDESCRIPTION")
			for _, r := range roles {
				fmt.Fprintf(w, "%s\t%s\t%s\n", r.Name, strings.Join(r.Permissions, ","), r.Description)
			}
			return w.Flush()
		}),
	}
	cmd.AddCommand(change("grant", "Grant a permission to a role", true), change("revoke", "Revoke a permission from a role", false), list)
	return cmd
}

func (c *cli) auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit trail"}
	var action string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "Print audit events, newest first, one JSON object per line",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("--limit must be between 1 and 10000")
			}
			events, err := a.Store.AuditEvents(ctx, action, limit)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.Out)
			for _, e := range events {
				if err := enc.Encode(eventJSON(e)); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	list.Flags().StringVar(&action, "action", "", "only events of this action, e.g. auth.login.failed")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many events")
	cmd.AddCommand(list, c.auditVerifyCmd(), c.auditTailCmd())
	return cmd
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
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
	cmd.AddCommand(c.roleCreateCmd(), c.roleDescribeCmd(), c.roleUpdateCmd(), c.roleDeleteCmd(),
		change("grant", "Grant a permission to a role", true), change("revoke", "Revoke a permission from a role", false), list)
	return cmd
}

func (c *cli) roleCreateCmd() *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "create ROLE",
		Short: "Create a role without permissions (grant them with iam role grant)",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			r, err := a.RBAC.CreateRole(ctx, actor(), args[0], description)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "created role %s\n", r.Name)
			return nil
		}),
	}
	cmd.Flags().StringVar(&description, "description", "", "what the role is for")
	return cmd
}

func (c *cli) roleDescribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe ROLE",
		Short: "Show a role's description, whether it is built in, and its permissions",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			r, err := a.RBAC.Role(ctx, args[0])
			if err != nil {
				return err
			}
			return printFields(c.Out, "name", r.Name, "description", r.Description,
				"builtin", strconv.FormatBool(r.Builtin), "permissions", orNone(r.Permissions))
		}),
	}
}

func (c *cli) roleUpdateCmd() *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "update ROLE --description TEXT",
		Short: "Change a role's description",
		Args:  cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&description, "description", "", "the role's new description (\"\" clears it)")
	cmd.RunE = c.withApp(func(ctx context.Context, a *app.App, args []string) error {
		if !cmd.Flags().Changed("description") {
			return errors.New("--description is required: it is what a role update changes")
		}
		r, err := a.RBAC.Role(ctx, args[0])
		if err != nil {
			return err
		}
		changed, err := a.RBAC.SetRoleDescription(ctx, actor(), r.Name, description)
		if err != nil {
			return err
		}
		if !changed {
			fmt.Fprintf(c.Out, "nothing to do: role %s has that description already\n", r.Name)
			return nil
		}
		fmt.Fprintf(c.Out, "updated the description of role %s\n", r.Name)
		return nil
	})
	return cmd
}

func (c *cli) roleDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ROLE",
		Short: "Delete a role: its holders lose it and the tokens that claim it are revoked",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			r, err := a.RBAC.Role(ctx, args[0])
			if err != nil {
				return err
			}
			if err := a.RBAC.DeleteRole(ctx, actor(), r.Name); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "deleted role %s\n", r.Name)
			return nil
		}),
	}
}

func (c *cli) permissionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "permission", Short: "Manage the permissions roles grant"}
	var description string
	create := &cobra.Command{
		Use:   "create CODE",
		Short: "Create a permission, granted to no role (grant it with iam role grant)",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			p, err := a.RBAC.CreatePermission(ctx, actor(), args[0], description)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "created permission %s\n", p.Code)
			return nil
		}),
	}
	create.Flags().StringVar(&description, "description", "", "what the permission allows")
	del := &cobra.Command{
		Use:   "delete CODE",
		Short: "Delete a permission and take it from every role that grants it",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			if err := a.RBAC.DeletePermission(ctx, actor(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "deleted permission %s\n", args[0])
			return nil
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List permissions with their descriptions",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			perms, err := a.RBAC.Permissions(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PERMISSION\tDESCRIPTION")
			for _, p := range perms {
				fmt.Fprintf(w, "%s\t%s\n", p.Code, p.Description)
			}
			return w.Flush()
		}),
	}
	cmd.AddCommand(create, del, list)
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

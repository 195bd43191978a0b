package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

func (c *cli) serviceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "service", Short: "Manage service accounts (OAuth2 clients of the client-credentials grant)"}

	var roles []string
	var output string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a service account; prints its client id and secret, once",
		Args:  cobra.ExactArgs(1),
		RunE: c.withServices(func(ctx context.Context, a *app.App, s *serviceaccount.Service, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			names, err := a.RBAC.RoleNames(ctx, roles)
			if err != nil {
				return err
			}
			acct, secret, err := s.Create(ctx, actor(), args[0], names)
			if err != nil {
				return err
			}
			return c.printCredentials(output, acct, secret, fmt.Sprintf("created service account %s with roles [%s]", acct.Name, strings.Join(names, ", ")))
		}),
	}
	create.Flags().StringArrayVar(&roles, "role", nil, "give the account this role (repeatable)")
	create.Flags().StringVar(&output, "output", "text", `text, or json for {"client_id","client_secret"}`)

	var rotateOutput string
	rotate := &cobra.Command{
		Use:   "rotate-secret NAME",
		Short: "Replace a service account's client secret; prints the new one, once",
		Args:  cobra.ExactArgs(1),
		RunE: c.withServices(func(ctx context.Context, _ *app.App, s *serviceaccount.Service, args []string) error {
			if rotateOutput != "text" && rotateOutput != "json" {
				return fmt.Errorf("--output %q: want text or json", rotateOutput)
			}
			acct, secret, err := s.RotateSecret(ctx, actor(), args[0])
			if err != nil {
				return err
			}
			return c.printCredentials(rotateOutput, acct, secret, "new secret for service account "+acct.Name+"; the old one no longer works")
		}),
	}
	rotate.Flags().StringVar(&rotateOutput, "output", "text", `text, or json for {"client_id","client_secret"}`)

	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Stop a service account from getting tokens and void those it has",
		Args:  cobra.ExactArgs(1),
		RunE: c.withServices(func(ctx context.Context, _ *app.App, s *serviceaccount.Service, args []string) error {
			changed, err := s.Disable(ctx, actor(), args[0])
			if err != nil {
				return err
			}
			if !changed {
				fmt.Fprintf(c.Out, "nothing to do: %s is disabled already\n", args[0])
				return nil
			}
			fmt.Fprintf(c.Out, "disabled %s\n", args[0])
			return nil
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List service accounts with their client id, state and roles",
		Args:  cobra.NoArgs,
		RunE: c.withServices(func(ctx context.Context, _ *app.App, s *serviceaccount.Service, _ []string) error {
			accts, err := s.List(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tCLIENT ID\tSTATE\tROLES")
			for _, a := range accts {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Name, a.ID, a.State, strings.Join(a.Roles, ","))
			}
			return w.Flush()
		}),
	}
	describe := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a service account's client id, state, roles, and when it was created and changed (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: c.withServices(func(ctx context.Context, _ *app.App, s *serviceaccount.Service, args []string) error {
			acct, err := s.Lookup(ctx, args[0])
			if err != nil {
				return err
			}
			// Only the listing reads an account's roles.
			accts, err := s.List(ctx)
			if err != nil {
				return err
			}
			if i := slices.IndexFunc(accts, func(a serviceaccount.Account) bool { return a.ID == acct.ID }); i >= 0 {
				acct = accts[i]
			}
			return printFields(c.Out, "name", acct.Name, "client id", acct.ID.String(), "state", string(acct.State),
				"roles", orNone(acct.Roles), "created", stamp(acct.CreatedAt), "updated", stamp(acct.UpdatedAt))
		}),
	}
	cmd.AddCommand(create, rotate, disable, describe, list)
	return cmd
}

// withServices runs fn with an open App and its service account service,
// which hashes secrets with the configured IAM_CLIENT_SECRET_PEPPER.
func (c *cli) withServices(fn func(ctx context.Context, a *app.App, s *serviceaccount.Service, args []string) error) func(*cobra.Command, []string) error {
	return c.withApp(func(ctx context.Context, a *app.App, args []string) error {
		pepper, err := c.flags.ClientSecretPepper()
		if err != nil {
			return err
		}
		s, err := a.ServiceAccounts(ctx, pepper)
		if err != nil {
			return err
		}
		return fn(ctx, a, s, args)
	})
}

// printCredentials prints a client id and secret: the only time the
// secret is shown.
func (c *cli) printCredentials(output string, acct serviceaccount.Account, secret, summary string) error {
	if output == "json" {
		return json.NewEncoder(c.Out).Encode(map[string]string{"client_id": acct.ID.String(), "client_secret": secret})
	}
	fmt.Fprintln(c.Out, summary)
	fmt.Fprintf(c.Out, "client_id:     %s\nclient_secret: %s\n", acct.ID, secret)
	fmt.Fprintln(c.Out, "store the secret now: it is not kept and cannot be shown again")
	return nil
}

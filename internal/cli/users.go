package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/identity"
)

func (c *cli) createSuperuserCmd() *cobra.Command {
	var username string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "createsuperuser",
		Short: "Create an administrator of the IAM itself (role " + authz.AdminRole + ")",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			if username == "" {
				return fmt.Errorf("--username is required")
			}
			return c.createUser(ctx, a, username, fromStdin, []string{authz.AdminRole})
		}),
	}
	cmd.Flags().StringVar(&username, "username", "", "username of the new administrator")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

func (c *cli) createUser(ctx context.Context, a *app.App, username string, fromStdin bool, roles []string) error {
	roles, err := a.RBAC.RoleNames(ctx, roles)
	if err != nil {
		return err
	}
	pw, err := c.readPassword(fromStdin)
	if err != nil {
		return err
	}
	u, err := a.Users.Create(ctx, actor(), username, pw, roles)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "created user %s (%s) with roles [%s]\n", u.Username, u.ID, strings.Join(roles, ", "))
	return nil
}

func (c *cli) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}

	var fromStdin bool
	var roles []string
	create := &cobra.Command{
		Use:   "create USERNAME",
		Short: "Create a user",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			return c.createUser(ctx, a, args[0], fromStdin, roles)
		}),
	}
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	create.Flags().StringArrayVar(&roles, "role", nil, "give the user this role (repeatable)")

	var pwStdin bool
	setPassword := &cobra.Command{
		Use:   "set-password USERNAME",
		Short: "Set a user's password",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			pw, err := c.readPassword(pwStdin)
			if err != nil {
				return err
			}
			if err := a.Users.SetPassword(ctx, actor(), args[0], pw); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "password set for %s\n", args[0])
			return nil
		}),
	}
	setPassword.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")

	addRole := &cobra.Command{
		Use:   "add-role USERNAME ROLE",
		Short: "Give a user a role",
		Args:  cobra.ExactArgs(2),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			return c.changeUserRole(ctx, a, args[0], args[1], true)
		}),
	}
	removeRole := &cobra.Command{
		Use:   "remove-role USERNAME ROLE",
		Short: "Take a role from a user",
		Args:  cobra.ExactArgs(2),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			return c.changeUserRole(ctx, a, args[0], args[1], false)
		}),
	}
	disable := &cobra.Command{
		Use:   "disable USERNAME",
		Short: "Stop a user from logging in",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			return c.setUserState(ctx, a, args[0], identity.StateDisabled)
		}),
	}
	enable := &cobra.Command{
		Use:   "enable USERNAME",
		Short: "Let a disabled or locked user log in again (tokens voided meanwhile stay void)",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(ctx context.Context, a *app.App, args []string) error {
			return c.setUserState(ctx, a, args[0], identity.StateActive)
		}),
	}
	describe := &cobra.Command{
		Use:   "describe USERNAME",
		Short: "Show a user's id, state, roles, and when it was created, changed and last logged in",
		Args:  cobra.ExactArgs(1),
		RunE:  c.withApp(c.describeUser),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List users with their state and roles",
		Args:  cobra.NoArgs,
		RunE:  c.withApp(c.listUsers),
	}
	cmd.AddCommand(create, setPassword, addRole, removeRole, disable, enable, describe, list)
	return cmd
}

// setUserState disables or enables username. Either is a no-op, which
// records nothing, for a user in that state already: then it says so.
func (c *cli) setUserState(ctx context.Context, a *app.App, username string, want identity.State) error {
	u, err := a.Users.Lookup(ctx, username)
	if err != nil {
		return err
	}
	if u.State == want {
		fmt.Fprintf(c.Out, "nothing to do: %s is %s already\n", u.Username, want)
		return nil
	}
	change, done := a.Users.Disable, "disabled"
	if want == identity.StateActive {
		change, done = a.Users.Enable, "enabled"
	}
	if err := change(ctx, actor(), u.Username); err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "%s %s\n", done, u.Username)
	return nil
}

func (c *cli) describeUser(ctx context.Context, a *app.App, args []string) error {
	u, err := a.Users.Lookup(ctx, args[0])
	if err != nil {
		return err
	}
	g, err := a.RBAC.Grants(ctx, u.ID)
	if err != nil {
		return err
	}
	last := "never"
	if u.LastLoginAt != nil {
		last = stamp(*u.LastLoginAt)
	}
	return printFields(c.Out,
		"username", u.Username, "id", u.ID.String(), "state", string(u.State), "roles", orNone(g.Roles),
		"created", stamp(u.CreatedAt), "updated", stamp(u.UpdatedAt), "last login", last)
}

func (c *cli) changeUserRole(ctx context.Context, a *app.App, username, role string, add bool) error {
	u, err := a.Users.Lookup(ctx, username)
	if err != nil {
		return err
	}
	change, verb := a.RBAC.RemoveUserRole, "took role %s from %s"
	if add {
		change, verb = a.RBAC.AddUserRole, "gave role %s to %s"
	}
	changed, err := change(ctx, actor(), u.ID, role)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf(verb, role, u.Username)
	if !changed {
		msg = "nothing to do: " + msg + " already"
	}
	fmt.Fprintln(c.Out, msg)
	return nil
}

func (c *cli) listUsers(ctx context.Context, a *app.App, _ []string) error {
	users, err := a.Users.List(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USERNAME\tID\tSTATE\tROLES\tLAST LOGIN")
	for _, u := range users {
		g, err := a.RBAC.Grants(ctx, u.ID)
		if err != nil {
			return err
		}
		last := "never"
		if u.LastLoginAt != nil {
			last = u.LastLoginAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.ID, u.State, strings.Join(g.Roles, ","), last)
	}
	return w.Flush()
}

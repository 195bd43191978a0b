package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/django"
)

func (c *cli) importDjangoCmd() *cobra.Command {
	var file, mapFile string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import-django",
		Short: "Import users, groups and permissions from Django's dumpdata (idempotent, all or nothing)",
		Long: `Import a Django project's auth data, as written by

  python manage.py dumpdata auth.user auth.group auth.permission --natural-foreign

(a custom user model with the same fields works too). Groups become roles
with the Gaia permissions the --permissions-map file maps their Django
permissions to; unmapped ones are reported, not imported. Users keep their
password hashes (upgraded to argon2id at their first login), their groups'
roles, and iam-admin if they are superusers; is_active=false disables them.
Everything is applied in one transaction; importing again updates and
never duplicates. --dry-run prints what would change and changes nothing.`,
		Args: cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			if file == "" {
				return errors.New("--file is required (a dumpdata JSON file, or - for stdin)")
			}
			dump, err := c.readDump(file)
			if err != nil {
				return fmt.Errorf("%s: %w (nothing was imported)", file, err)
			}
			pmap := django.PermissionMap{}
			if mapFile != "" {
				if pmap, err = readPermissionMap(mapFile); err != nil {
					return fmt.Errorf("%s: %w (nothing was imported)", mapFile, err)
				}
			}
			var cur django.Current
			if cur.Permissions, err = a.RBAC.Permissions(ctx); err != nil {
				return err
			}
			if cur.Roles, err = a.RBAC.Roles(ctx); err != nil {
				return err
			}
			seed, report, err := django.ToSeed(dump, pmap, cur)
			if err != nil {
				return fmt.Errorf("%s: %w (nothing was imported)", file, err)
			}
			applied, err := a.RBAC.ApplySeed(ctx, actor(), seed, dryRun)
			if err != nil {
				return fmt.Errorf("%s: %w (nothing was imported)", file, err)
			}
			for _, line := range applied.Changes {
				fmt.Fprintln(c.Out, line)
			}
			if dryRun {
				fmt.Fprintf(c.Out, "dry run: %d changes would be made; nothing was changed\n", len(applied.Changes))
			} else {
				fmt.Fprintf(c.Out, "import applied: %d changes\n", len(applied.Changes))
			}
			printImportReport(c.Out, len(dump.Users), len(dump.Groups), report)
			return nil
		}),
	}
	cmd.Flags().StringVar(&file, "file", "", "dumpdata JSON file (- reads stdin)")
	cmd.Flags().StringVar(&mapFile, "permissions-map", "", "YAML file mapping Django permissions (app_label.codename) to Gaia permission codes")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change and change nothing")
	return cmd
}

func (c *cli) readDump(file string) (django.Dump, error) {
	var r io.Reader = c.In
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return django.Dump{}, err
		}
		defer f.Close()
		r = f
	}
	return django.ParseDump(r)
}

func readPermissionMap(file string) (django.PermissionMap, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return django.ParsePermissionMap(f)
}

func printImportReport(w io.Writer, users, groups int, r django.Report) {
	fmt.Fprintf(w, "read %d users and %d groups\n", users, groups)
	if len(r.Unmapped) > 0 {
		fmt.Fprintln(w, "Django permissions not imported (no entry in the permissions map):")
		for _, u := range r.Unmapped {
			fmt.Fprintf(w, "  %s (groups: %s)\n", u.Permission, strings.Join(u.Groups, ", "))
		}
	}
	if len(r.NoPassword) > 0 {
		fmt.Fprintln(w, "users imported without a password (they cannot log in until one is set with `iam user set-password`):")
		for _, u := range r.NoPassword {
			fmt.Fprintf(w, "  %s: %s\n", u.Username, u.Reason)
		}
	}
	if len(r.DirectPermissions) > 0 {
		fmt.Fprintln(w, "users' own Django permissions not imported (Gaia grants permissions through roles only):")
		for _, u := range r.DirectPermissions {
			fmt.Fprintf(w, "  %s: %s\n", u.Username, strings.Join(u.Permissions, ", "))
		}
	}
	if len(r.UnusedMappings) > 0 {
		fmt.Fprintf(w, "permissions map entries no group holds: %s\n", strings.Join(r.UnusedMappings, ", "))
	}
	if len(r.Ignored) > 0 {
		var parts []string
		for _, m := range slices.Sorted(maps.Keys(r.Ignored)) {
			parts = append(parts, fmt.Sprintf("%s (%d)", m, r.Ignored[m]))
		}
		fmt.Fprintf(w, "records of other models ignored: %s\n", strings.Join(parts, ", "))
	}
}

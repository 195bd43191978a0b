// Package cli is the iam command: the server and its management commands.
// Commands talk to the database directly, like Django's manage.py; they
// never print secrets they were given.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/identity"
)

// IO is where a command reads and writes, and the clock it reads.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// Now replaces the wall clock when set: tests move time with it.
	Now func() time.Time
}

type cli struct {
	IO
	flags *config.Flags
}

// Run executes the iam command with args and returns its exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	root := newRoot(stdio)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stdio.Err, "iam: "+oneLine(err.Error()))
		var usage *usageError
		if errors.As(err, &usage) {
			fmt.Fprintln(stdio.Err, "Usage: "+usage.Usage())
		}
		return 1
	}
	return 0
}

func newRoot(stdio IO) *cobra.Command {
	c := &cli{IO: stdio}
	root := &cobra.Command{
		Use:           "iam",
		Short:         "Gaia IAM: identity, RBAC and signed tokens for the platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	c.flags = config.NewFlags(root.PersistentFlags())
	root.Version = versionLine()
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(c.serveCmd(), c.migrateCmd(), c.createSuperuserCmd(), c.seedCmd(),
		c.userCmd(), c.roleCmd(), c.auditCmd(), c.keysCmd(), c.importDjangoCmd(),
		c.permissionCmd(), c.sessionCmd(), c.serviceCmd(), c.decisionLogsCmd(), c.securityCmd(), versionCmd())
	// A group (iam role, iam user, ...) given a subcommand it does not
	// have fails as iam does with an unknown command, instead of printing
	// its help and succeeding; with none it prints its help.
	for _, group := range root.Commands() {
		if group.HasSubCommands() && !group.Runnable() {
			group.Args = cobra.NoArgs
			group.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
	}
	polishHelp(root)
	return root
}

// open connects to the configured database for a management command.
func (c *cli) open(ctx context.Context) (*app.App, error) {
	db, err := c.flags.Database()
	if err != nil {
		return nil, err
	}
	log, err := c.logger(slog.LevelWarn)
	if err != nil {
		return nil, err
	}
	return app.OpenAt(ctx, db, identity.DefaultHashLimits(), log, c.now())
}

// logger logs from level up on stderr, in the format IAM_LOG_FORMAT names.
func (c *cli) logger(level slog.Level) (*slog.Logger, error) {
	format, err := c.flags.LogFormat()
	if err != nil {
		return nil, err
	}
	return app.NewLogger(c.Err, format, level), nil
}

// now is the clock commands and the server run on.
func (c *cli) now() func() time.Time {
	if c.Now != nil {
		return c.Now
	}
	return time.Now
}

// withApp runs fn with an open App, closing it afterwards.
func (c *cli) withApp(fn func(ctx context.Context, a *app.App, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := c.open(cmd.Context())
		if err != nil {
			return err
		}
		defer a.Close()
		return fn(cmd.Context(), a, args)
	}
}

func (c *cli) serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP server (applies migrations first)",
		Args:  cobra.NoArgs,
	}
	c.flags.AddServerFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := c.flags.Config()
		if err != nil {
			return err
		}
		log, err := c.logger(slog.LevelInfo)
		if err != nil {
			return err
		}
		a, err := app.OpenAt(cmd.Context(), cfg.Database, cfg.Hashing, log, c.now())
		if err != nil {
			return err
		}
		defer a.Close()
		return a.Serve(cmd.Context(), cfg)
	}
	return cmd
}

func (c *cli) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			v, err := a.Store.Migrate()
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "database schema is at version %d\n", v)
			return nil
		}),
	}
}

// actor names the operator in audit events: the CLI and the OS user.
func actor() string {
	if u := os.Getenv("USER"); u != "" {
		return audit.CLI + ":" + u
	}
	return audit.CLI
}

// readPassword takes a password from the first line of stdin, or prompts
// twice without echo when stdin is a terminal.
func (c *cli) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(c.In).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("no password on stdin")
		}
		return pw, nil
	}
	f, ok := c.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("stdin is not a terminal: pass the password with --password-stdin")
	}
	prompt := func(label string) (string, error) {
		fmt.Fprint(c.Err, label)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.Err)
		return string(b), err
	}
	first, err := prompt("Password: ")
	if err != nil {
		return "", err
	}
	second, err := prompt("Password (again): ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("passwords do not match")
	}
	return first, nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// printFields prints name, value pairs as the describe commands do: one
// "name: value" line each, the values aligned.
func printFields(out io.Writer, pairs ...string) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(w, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
	return w.Flush()
}

// orNone is names as describe commands print them: comma-separated, or none.
func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

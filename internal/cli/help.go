package cli

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// What a build says of itself; the Makefile and the Dockerfile set them
// with -ldflags -X. Unset, they come from the module's build info.
var (
	version   = ""
	commit    = ""
	buildDate = ""
)

// versionLine is what `iam --version` and `iam version` print.
func versionLine() string {
	v, c, d := version, commit, buildDate
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" && info.Main.Version != "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value[:min(len(s.Value), 12)]
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
	}
	or := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	return fmt.Sprintf("iam %s (commit %s, built %s)", or(v), or(c), or(d))
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}
}

// examples are the Examples: section of every command's help, by
// command path. A test holds every command to having one.
var examples = map[string]string{
	"iam":                       "iam serve\niam user list\niam --version",
	"iam serve":                 "IAM_DATABASE_URL='postgres://postgres@127.0.0.1:5432/gaia?sslmode=disable' iam serve\niam serve --http-addr 0.0.0.0:8080 --public-url https://iam.example.com",
	"iam migrate":               "IAM_DATABASE_URL='postgres://postgres@127.0.0.1:5432/gaia?sslmode=disable' iam migrate",
	"iam version":               "iam version",
	"iam createsuperuser":       "printf '%s\\n' \"$ADMIN_PASSWORD\" | iam createsuperuser --username root --password-stdin",
	"iam seed":                  "iam seed --file examples/rbac.yaml",
	"iam import-django":         "iam import-django --file dump.json --permissions-map examples/django-permissions.yaml",
	"iam user":                  "iam user list",
	"iam user create":           "printf '%s\\n' \"$PASSWORD\" | iam user create alice --role Analyst --password-stdin",
	"iam user set-password":     "printf '%s\\n' \"$PASSWORD\" | iam user set-password alice --password-stdin",
	"iam user add-role":         "iam user add-role alice Admin",
	"iam user remove-role":      "iam user remove-role alice Admin",
	"iam user disable":          "iam user disable alice",
	"iam user describe":         "iam user describe alice",
	"iam user enable":           "iam user enable alice",
	"iam user list":             "iam user list",
	"iam role":                  "iam role list",
	"iam role grant":            "iam role grant Analyst inventory.write",
	"iam role revoke":           "iam role revoke Analyst inventory.write",
	"iam role create":           "iam role create Auditor --description 'Reads the audit trail'\niam role grant Auditor iam.audit.read",
	"iam role describe":         "iam role describe Analyst",
	"iam role update":           "iam role update Analyst --description 'Reads reports and the inventory'",
	"iam role delete":           "iam role delete Auditor",
	"iam role list":             "iam role list",
	"iam permission":            "iam permission list",
	"iam permission create":     "iam permission create billing.invoice.read --description 'Read invoices'",
	"iam permission delete":     "iam permission delete billing.invoice.read",
	"iam permission list":       "iam permission list",
	"iam service":               "iam service list",
	"iam service create":        "iam service create reporting --role Analyst --output json",
	"iam service disable":       "iam service disable reporting",
	"iam service describe":      "iam service describe reporting",
	"iam service list":          "iam service list",
	"iam service rotate-secret": "iam service rotate-secret reporting --output json",
	"iam session":               "iam session list alice",
	"iam session list":          "iam session list alice",
	"iam session end":           "iam session list alice\niam session end alice 3f6c2a8e-5d1b-4c7e-9a0f-2b8d4e6f1a3c",
	"iam audit":                 "iam audit verify",
	"iam audit list":            "iam audit list --action auth.login.failed --limit 20",
	"iam audit tail":            "iam audit tail --follow",
	"iam audit verify":          "iam audit verify",
	"iam keys":                  "iam keys list",
	"iam keys list":             "iam keys list",
	"iam keys prune":            "iam keys prune",
	"iam keys public":           "iam keys public --one-line",
	"iam keys rotate":           "iam keys rotate\niam keys rotate --revoke-current   # the signing key leaked",
	"iam security":              "iam security blocks",
	"iam security blocks":       "iam security blocks",
	"iam security unblock":      "iam security unblock --ip 203.0.113.7\niam security unblock --user alice",
	"iam decision-logs":         "iam decision-logs list",
	"iam decision-logs list":    "iam decision-logs list --subject reporting --limit 20",
	"iam completion":            "iam completion bash > /etc/bash_completion.d/iam",
	"iam completion bash":       "iam completion bash > /etc/bash_completion.d/iam",
	"iam completion zsh":        "iam completion zsh > \"${fpath[1]}/_iam\"",
	"iam completion fish":       "iam completion fish > ~/.config/fish/completions/iam.fish",
	"iam completion powershell": "iam completion powershell | Out-String | Invoke-Expression",
	"iam help":                  "iam help user create",
}

// Cobra's template functions are global: registered once, not by each
// Run, which tests call concurrently.
func init() { cobra.AddTemplateFunc("flagUsages", flagUsages) }

// polishHelp gives every command of root its example, bool flags shown as
// plain switches, and argument and flag errors followed by the usage line.
func polishHelp(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return &usageError{err: err, cmd: cmd} })
	tmpl := strings.NewReplacer(
		".LocalFlags.FlagUsages", "flagUsages .LocalFlags",
		".InheritedFlags.FlagUsages", "flagUsages .InheritedFlags",
	).Replace(root.UsageTemplate())
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.SetUsageTemplate(tmpl)
		if ex := examples[cmd.CommandPath()]; ex != "" && cmd.Example == "" {
			cmd.Example = indent(ex)
		}
		if args := cmd.Args; args != nil && !cmd.HasSubCommands() {
			cmd.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return &usageError{err: argumentsError(cmd, a, err), cmd: cmd}
				}
				return nil
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// usageError is a command used wrongly: Run prints the error, then the
// command's usage line, and not the whole help.
type usageError struct {
	err error
	cmd *cobra.Command
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// Usage is the command's usage line, e.g. iam user add-role USERNAME ROLE [flags].
func (e *usageError) Usage() string { return e.cmd.UseLine() }

// argumentsError says which of the arguments cmd's Use line names are
// missing, or which given ones are extra; err when the count is right.
func argumentsError(cmd *cobra.Command, args []string, err error) error {
	var names []string
	for _, f := range strings.Fields(cmd.Use)[1:] {
		if strings.ContainsAny(f[:1], "[(-") {
			break
		}
		names = append(names, f)
	}
	switch {
	case len(args) < len(names) && len(names)-len(args) == 1:
		return fmt.Errorf("missing argument %s", names[len(args)])
	case len(args) < len(names):
		return fmt.Errorf("missing arguments %s", strings.Join(names[len(args):], " and "))
	case len(args) > len(names) && len(args)-len(names) == 1:
		return fmt.Errorf("unexpected argument %q", args[len(names)])
	case len(args) > len(names):
		return fmt.Errorf("unexpected arguments %q", args[len(names):])
	}
	return err
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// flagUsages is pflag's FlagUsages with bool flags shown as the switches
// they are (--password-stdin), not as --password-stdin[=true|false].
func flagUsages(fs *pflag.FlagSet) string {
	out := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	fs.VisitAll(func(f *pflag.Flag) {
		shown := *f
		if f.Value.Type() == "bool" {
			shown.Value = plainBool{f.Value}
		}
		out.AddFlag(&shown)
	})
	return out.FlagUsages()
}

// plainBool hides a bool flag's IsBoolFlag, which is what makes pflag
// print [=true|false]; the flag parses as before, only its usage line
// is built from it.
type plainBool struct{ v pflag.Value }

func (b plainBool) String() string     { return b.v.String() }
func (b plainBool) Set(s string) error { return b.v.Set(s) }
func (b plainBool) Type() string       { return b.v.Type() }

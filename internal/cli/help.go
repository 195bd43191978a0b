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
	"iam user enable":           "iam user enable alice",
	"iam user list":             "iam user list",
	"iam role":                  "iam role list",
	"iam role grant":            "iam role grant Analyst inventory.write",
	"iam role revoke":           "iam role revoke Analyst inventory.write",
	"iam role list":             "iam role list",
	"iam service":               "iam service list",
	"iam service create":        "iam service create reporting --role Analyst --output json",
	"iam service disable":       "iam service disable reporting",
	"iam service list":          "iam service list",
	"iam service rotate-secret": "iam service rotate-secret reporting --output json",
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

// polishHelp gives every command of root its example, bool flags shown as
// plain switches, and argument errors that end with the usage line.
func polishHelp(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	cobra.AddTemplateFunc("flagUsages", flagUsages)
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
		if args := cmd.Args; args != nil {
			cmd.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return fmt.Errorf("%w; usage: %s", err, cmd.UseLine())
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

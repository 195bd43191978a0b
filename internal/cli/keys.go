package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/tokens"
)

func (c *cli) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Show, rotate and prune the IAM's signing keys"}
	cmd.AddCommand(c.keysPublicCmd(), c.keysRotateCmd(), c.keysListCmd(), c.keysPruneCmd())
	return cmd
}

func (c *cli) keysPublicCmd() *cobra.Command {
	var keyFile string
	var oneLine bool
	public := &cobra.Command{
		Use:   "public",
		Short: "Print the public half of the key signing now as PEM (what a stock OPA verifies bundles with)",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			keys, err := a.Keyring(ctx, keyFile)
			if err != nil {
				return err
			}
			der, err := x509.MarshalPKIXPublicKey(&keys.At(a.Now()).Signing.Private.PublicKey)
			if err != nil {
				return err
			}
			out := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			if oneLine {
				// For a double-quoted YAML value such as bundles/opa-config.yaml's
				// "${GAIA_IAM_PUBLIC_KEY}": YAML turns each \n back into a newline.
				out = strings.ReplaceAll(out, "\n", `\n`) + "\n"
			}
			fmt.Fprint(c.Out, out)
			return nil
		}),
	}
	public.Flags().StringVar(&keyFile, "signing-key-file", "", "the server's IAM_SIGNING_KEY_FILE, when it uses one")
	public.Flags().BoolVar(&oneLine, "one-line", false, `print on one line with \n escapes, for GAIA_IAM_PUBLIC_KEY`)
	return public
}

// errKeyFile refuses to rotate stored keys the server does not use.
var errKeyFile = errors.New("IAM_SIGNING_KEY_FILE is set: the server signs with that file's key, so rotate by deploying a new key file and restarting, not with iam keys rotate")

func (c *cli) keysRotateCmd() *cobra.Command {
	var revoke bool
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Create a new signing key, published at once and signing after IAM_KEY_ROTATION_GRACE",
		Long: "Create a new signing key. Every server on the database publishes it at once and signs with it once\n" +
			"IAM_KEY_ROTATION_GRACE has passed; the key it replaces stays published until every token it signed\n" +
			"has expired (IAM_ACCESS_TOKEN_TTL plus a minute). With --revoke-current the new key signs at once and\n" +
			"every other key is deleted: for a leaked key, at the price of every outstanding token.",
		Args: cobra.NoArgs,
	}
	c.flags.AddRotationFlags(rotate.Flags())
	rotate.Flags().BoolVar(&revoke, "revoke-current", false, "sign with the new key now and delete every other key: their tokens stop verifying (a leaked key)")
	rotate.RunE = c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
		cfg, err := c.flags.Rotation()
		if err != nil {
			return err
		}
		if cfg.SigningKeyFile != "" {
			return errKeyFile
		}
		now := a.Now().UTC()
		r, err := tokens.NewRotation(now, cfg.Grace, cfg.AccessTokenTTL, revoke, actor())
		if err != nil {
			return err
		}
		if err := tokens.RotateSigningKey(ctx, a.Store, r); err != nil {
			return err
		}
		if revoke {
			fmt.Fprintf(c.Out, "new signing key %s signs now; every other key is deleted and its tokens no longer verify\n", r.Key.ID)
			return nil
		}
		fmt.Fprintf(c.Out, "new signing key %s is published now and signs from %s; the keys it replaces stay published until %s\n",
			r.Key.ID, stamp(r.Key.ActivatesAt), stamp(r.RetireAfter))
		return nil
	})
	return rotate
}

func (c *cli) keysListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the stored signing keys and their states (pending, active, retiring, retired)",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			keys, err := a.Store.SigningKeys(ctx)
			if err != nil {
				return err
			}
			states := tokens.KeyStates(keys, a.Now())
			w := tabwriter.NewWriter(c.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KID\tSTATE\tCREATED\tACTIVATES\tRETIRE AFTER")
			for _, k := range keys {
				retire := "-"
				if !k.RetireAfter.IsZero() {
					retire = stamp(k.RetireAfter)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.ID, states[k.ID], stamp(k.CreatedAt), stamp(k.ActivatesAt), retire)
			}
			return w.Flush()
		}),
	}
}

func (c *cli) keysPruneCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Delete the keys whose tokens have all expired (state retired); keep every other",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			now := a.Now().UTC()
			pruned, err := tokens.PruneSigningKeys(ctx, a.Store, now, actor())
			if err != nil {
				return err
			}
			for _, k := range pruned {
				fmt.Fprintf(c.Out, "pruned %s\n", k.ID)
			}
			keys, err := a.Store.SigningKeys(ctx)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if !k.RetireAfter.IsZero() {
					fmt.Fprintf(c.Out, "kept %s: it may verify live tokens until %s\n", k.ID, stamp(k.RetireAfter))
				}
			}
			if len(pruned) == 0 {
				fmt.Fprintln(c.Out, "nothing to prune")
			}
			return nil
		}),
	}
}

// stamp is how commands print a time: UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

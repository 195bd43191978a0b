package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gaia-platform/iam/internal/app"
)

func (c *cli) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Show the IAM's signing keys"}
	var keyFile string
	var oneLine bool
	public := &cobra.Command{
		Use:   "public",
		Short: "Print the public half of the signing key as PEM (what a stock OPA verifies bundles with)",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(ctx context.Context, a *app.App, _ []string) error {
			key, err := a.SigningKey(ctx, keyFile)
			if err != nil {
				return err
			}
			der, err := x509.MarshalPKIXPublicKey(&key.Private.PublicKey)
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
	cmd.AddCommand(public)
	return cmd
}

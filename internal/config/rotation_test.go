package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gaia-platform/iam/internal/config"
)

// rotationConfig parses args as iam keys rotate does, with iam serve's
// flags registered beside it as in the real command tree: the two share
// IAM_ACCESS_TOKEN_TTL and IAM_SIGNING_KEY_FILE.
func rotationConfig(t *testing.T, args ...string) (config.Rotation, config.Config, error) {
	t.Helper()
	root := pflag.NewFlagSet("iam", pflag.ContinueOnError)
	serve := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	rotate := pflag.NewFlagSet("rotate", pflag.ContinueOnError)
	f := config.NewFlags(root)
	f.AddServerFlags(serve)
	f.AddRotationFlags(rotate)
	if err := root.Parse([]string{"--database-url", "sqlite:///tmp/iam.db"}); err != nil {
		t.Fatal(err)
	}
	if err := rotate.Parse(args); err != nil {
		t.Fatal(err)
	}
	r, err := f.Rotation()
	if err != nil {
		return r, config.Config{}, err
	}
	c, err := f.Config()
	return r, c, err
}

func TestRotation_DefaultsEnvironmentAndTheRunningCommandsFlag(t *testing.T) {
	for _, env := range []string{"IAM_KEY_ROTATION_GRACE", "IAM_ACCESS_TOKEN_TTL", "IAM_SIGNING_KEY_FILE"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	r, _, err := rotationConfig(t)
	if want := (config.Rotation{Grace: 5 * time.Minute, AccessTokenTTL: 15 * time.Minute}); err != nil || r != want {
		t.Errorf("defaults %+v, %v; want %+v", r, err, want)
	}
	t.Setenv("IAM_KEY_ROTATION_GRACE", "0s")
	t.Setenv("IAM_ACCESS_TOKEN_TTL", "1h")
	r, _, err = rotationConfig(t)
	if want := (config.Rotation{AccessTokenTTL: time.Hour}); err != nil || r != want {
		t.Errorf("from the environment %+v, %v; want %+v", r, err, want)
	}
	// The flag given to rotate wins over the environment, for rotate and
	// for the server settings that share its variable.
	r, c, err := rotationConfig(t, "--access-token-ttl", "2h", "--signing-key-file", "/etc/iam/key.pem")
	if want := (config.Rotation{AccessTokenTTL: 2 * time.Hour, SigningKeyFile: "/etc/iam/key.pem"}); err != nil || r != want || c.AccessTokenTTL != 2*time.Hour {
		t.Errorf("from flags %+v (server TTL %v), %v; want %+v", r, c.AccessTokenTTL, err, want)
	}
}

func TestRotation_BadDurationsNameTheVariable(t *testing.T) {
	for args, want := range map[string]string{
		"--key-rotation-grace=-1m": "IAM_KEY_ROTATION_GRACE",
		"--key-rotation-grace=5":   "IAM_KEY_ROTATION_GRACE",
		"--access-token-ttl=0s":    "IAM_ACCESS_TOKEN_TTL",
	} {
		if _, _, err := rotationConfig(t, args); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one naming %s", args, err, want)
		}
	}
}

package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gaia-platform/iam/internal/config"
)

func serverConfig(t *testing.T, args ...string) (config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f := config.NewFlags(fs)
	f.AddServerFlags(fs)
	if err := fs.Parse(append([]string{"--database-url", "sqlite:///tmp/iam.db"}, args...)); err != nil {
		t.Fatal(err)
	}
	return f.Config()
}

func TestSessions_DefaultsAreDocumented(t *testing.T) {
	for _, env := range []string{"IAM_REFRESH_TOKEN_TTL", "IAM_REFRESH_IDLE_TIMEOUT", "IAM_REFRESH_REUSE_GRACE"} {
		t.Setenv(env, "") // restored when the test ends
		os.Unsetenv(env)
	}
	c, err := serverConfig(t)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Sessions{RefreshTokenTTL: 720 * time.Hour, IdleTimeout: 24 * time.Hour, ReuseGrace: 5 * time.Second}
	if c.Sessions != want {
		t.Errorf("sessions %+v, want %+v", c.Sessions, want)
	}
}

func TestSessions_EnvironmentSetsThePolicy(t *testing.T) {
	t.Setenv("IAM_REFRESH_TOKEN_TTL", "2h")
	t.Setenv("IAM_REFRESH_IDLE_TIMEOUT", "0")
	t.Setenv("IAM_REFRESH_REUSE_GRACE", "5s")
	c, err := serverConfig(t)
	want := config.Sessions{RefreshTokenTTL: 2 * time.Hour, ReuseGrace: 5 * time.Second}
	if err != nil || c.Sessions != want {
		t.Errorf("sessions %+v, %v; want %+v", c.Sessions, err, want)
	}
}

func TestSessions_BadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--refresh-token-ttl", "0", "IAM_REFRESH_TOKEN_TTL"},
		{"--refresh-token-ttl", "soon", "IAM_REFRESH_TOKEN_TTL"},
		{"--refresh-idle-timeout", "-1h", "IAM_REFRESH_IDLE_TIMEOUT"},
		{"--refresh-reuse-grace", "2m", "IAM_REFRESH_REUSE_GRACE"},
	} {
		_, err := serverConfig(t, tc.flag, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want an error naming %s", tc.flag, tc.value, err, tc.want)
		}
	}
}

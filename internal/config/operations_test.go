package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gaia-platform/iam/internal/config"
)

func TestShutdownGrace_DefaultsToTenSecondsAndMustBePositive(t *testing.T) {
	t.Setenv("IAM_SHUTDOWN_GRACE", "") // restored when the test ends
	os.Unsetenv("IAM_SHUTDOWN_GRACE")
	if c, err := serverConfig(t); err != nil || c.ShutdownGrace != 10*time.Second {
		t.Errorf("default grace %v, %v; want 10s", c.ShutdownGrace, err)
	}
	if c, err := serverConfig(t, "--shutdown-grace", "45s"); err != nil || c.ShutdownGrace != 45*time.Second {
		t.Errorf("--shutdown-grace 45s: %v, %v", c.ShutdownGrace, err)
	}
	for _, bad := range []string{"0", "-1s", "soon", "10"} {
		if _, err := serverConfig(t, "--shutdown-grace", bad); err == nil || !strings.Contains(err.Error(), "IAM_SHUTDOWN_GRACE") {
			t.Errorf("--shutdown-grace %q: %v, want an error naming IAM_SHUTDOWN_GRACE", bad, err)
		}
	}
}

func TestLogFormat_TextByDefaultJSONOnRequestAnythingElseRefused(t *testing.T) {
	format := func(env string, args ...string) (string, error) {
		t.Setenv("IAM_LOG_FORMAT", env)
		if env == "-" {
			os.Unsetenv("IAM_LOG_FORMAT")
		}
		fs := pflag.NewFlagSet("iam", pflag.ContinueOnError)
		f := config.NewFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return f.LogFormat()
	}
	for _, c := range []struct {
		env  string
		args []string
		want string
	}{
		{"-", nil, config.LogText},
		{"json", nil, config.LogJSON},
		{"text", nil, config.LogText},
		{"json", []string{"--log-format", "text"}, config.LogText},
		{"-", []string{"--log-format", "json"}, config.LogJSON},
	} {
		if got, err := format(c.env, c.args...); err != nil || got != c.want {
			t.Errorf("IAM_LOG_FORMAT=%s %v: %q, %v; want %q", c.env, c.args, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "JSON", "logfmt", "json "} {
		if _, err := format(bad); err == nil || !strings.Contains(err.Error(), "IAM_LOG_FORMAT") {
			t.Errorf("IAM_LOG_FORMAT=%q: %v, want an error naming IAM_LOG_FORMAT", bad, err)
		}
	}
}

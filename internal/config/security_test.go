package config_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/clientip"
	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/throttle"
)

var securityVars = []string{"IAM_LOGIN_MAX_FAILURES_USER", "IAM_LOGIN_MAX_FAILURES_IP", "IAM_LOGIN_FAILURE_WINDOW",
	"IAM_LOGIN_LOCK_BASE", "IAM_LOGIN_LOCK_MAX", "IAM_TRUSTED_PROXIES", "IAM_HTTP_READ_HEADER_TIMEOUT",
	"IAM_HTTP_READ_TIMEOUT", "IAM_HTTP_WRITE_TIMEOUT", "IAM_HTTP_IDLE_TIMEOUT", "IAM_CONSOLE_IDLE_TIMEOUT", "IAM_CONSOLE_SESSION_LIFETIME"}

func TestSecurity_DefaultsAreDocumented(t *testing.T) {
	for _, env := range securityVars {
		t.Setenv(env, "") // restored when the test ends
		os.Unsetenv(env)
	}
	c, err := serverConfig(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.Throttle != throttle.DefaultPolicy {
		t.Errorf("throttle %+v, want %+v", c.Throttle, throttle.DefaultPolicy)
	}
	if c.TrustedProxies != nil {
		t.Errorf("trusted proxies %v, want none", c.TrustedProxies)
	}
	want := config.HTTPTimeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 30 * time.Second, Idle: 120 * time.Second}
	if c.HTTPTimeouts != want {
		t.Errorf("HTTP timeouts %+v, want %+v", c.HTTPTimeouts, want)
	}
	if c.Console != consolesession.DefaultPolicy {
		t.Errorf("console sessions %+v, want %+v", c.Console, consolesession.DefaultPolicy)
	}
}

func TestSecurity_EnvironmentSetsThePolicy(t *testing.T) {
	t.Setenv("IAM_LOGIN_MAX_FAILURES_USER", "3")
	t.Setenv("IAM_LOGIN_MAX_FAILURES_IP", "100")
	t.Setenv("IAM_LOGIN_FAILURE_WINDOW", "1h")
	t.Setenv("IAM_LOGIN_LOCK_BASE", "30s")
	t.Setenv("IAM_LOGIN_LOCK_MAX", "24h")
	t.Setenv("IAM_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,fd00::/8")
	t.Setenv("IAM_HTTP_READ_HEADER_TIMEOUT", "2s")
	c, err := serverConfig(t)
	if err != nil {
		t.Fatal(err)
	}
	want := throttle.Policy{MaxUserFailures: 3, MaxIPFailures: 100, Window: time.Hour, LockBase: 30 * time.Second, LockMax: 24 * time.Hour}
	if c.Throttle != want {
		t.Errorf("throttle %+v, want %+v", c.Throttle, want)
	}
	proxies := clientip.Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("fd00::/8")}
	if len(c.TrustedProxies) != len(proxies) {
		t.Fatalf("trusted proxies %v, want %v", c.TrustedProxies, proxies)
	}
	for i := range proxies {
		if c.TrustedProxies[i] != proxies[i] {
			t.Errorf("trusted proxies %v, want %v", c.TrustedProxies, proxies)
		}
	}
	if c.HTTPTimeouts.ReadHeader != 2*time.Second {
		t.Errorf("read header timeout %v, want 2s", c.HTTPTimeouts.ReadHeader)
	}
}

func TestSecurity_BadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--trusted-proxies", "10.0.0.0/8,10.0.0.300/32", "IAM_TRUSTED_PROXIES"},
		{"--trusted-proxies", "proxy.internal", "IAM_TRUSTED_PROXIES"},
		{"--login-max-failures-user", "0", "IAM_LOGIN_MAX_FAILURES_USER"},
		{"--login-max-failures-ip", "many", "IAM_LOGIN_MAX_FAILURES_IP"},
		{"--login-failure-window", "0s", "IAM_LOGIN_FAILURE_WINDOW"},
		{"--login-lock-base", "-1m", "IAM_LOGIN_LOCK_BASE"},
		{"--login-lock-max", "30s", "IAM_LOGIN_LOCK_MAX"}, // shorter than the 1m base
		{"--http-read-header-timeout", "0", "IAM_HTTP_READ_HEADER_TIMEOUT"},
		{"--http-idle-timeout", "forever", "IAM_HTTP_IDLE_TIMEOUT"},
		{"--console-idle-timeout", "0s", "IAM_CONSOLE_IDLE_TIMEOUT"},
		{"--console-session-lifetime", "a day", "IAM_CONSOLE_SESSION_LIFETIME"},
	} {
		_, err := serverConfig(t, tc.flag, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want an error naming %s", tc.flag, tc.value, err, tc.want)
		}
	}
}

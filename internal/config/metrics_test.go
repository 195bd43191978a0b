package config_test

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestMetrics_DefaultsServeOnThePublicListenerAndVerifyEvery15m(t *testing.T) {
	for _, env := range []string{"IAM_METRICS_ADDR", "IAM_AUDIT_VERIFY_INTERVAL"} {
		t.Setenv(env, "") // restored when the test ends
		os.Unsetenv(env)
	}
	c, err := serverConfig(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "" || c.AuditVerifyInterval != 15*time.Minute {
		t.Errorf("metrics addr %q, audit verify interval %s; want none and 15m", c.MetricsAddr, c.AuditVerifyInterval)
	}
}

func TestMetrics_EnvironmentAndFlagsSetThem(t *testing.T) {
	t.Setenv("IAM_METRICS_ADDR", "127.0.0.1:9090")
	t.Setenv("IAM_AUDIT_VERIFY_INTERVAL", "1m")
	c, err := serverConfig(t)
	if err != nil || c.MetricsAddr != "127.0.0.1:9090" || c.AuditVerifyInterval != time.Minute {
		t.Errorf("%q %s %v; want 127.0.0.1:9090 and 1m", c.MetricsAddr, c.AuditVerifyInterval, err)
	}
	c, err = serverConfig(t, "--metrics-addr", ":9100", "--audit-verify-interval", "30s")
	if err != nil || c.MetricsAddr != ":9100" || c.AuditVerifyInterval != 30*time.Second {
		t.Errorf("%q %s %v; want :9100 and 30s", c.MetricsAddr, c.AuditVerifyInterval, err)
	}
}

func TestMetrics_BadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--metrics-addr", "9090", "IAM_METRICS_ADDR"},
		{"--audit-verify-interval", "0", "IAM_AUDIT_VERIFY_INTERVAL"},
		{"--audit-verify-interval", "-1m", "IAM_AUDIT_VERIFY_INTERVAL"},
		{"--audit-verify-interval", "hourly", "IAM_AUDIT_VERIFY_INTERVAL"},
	} {
		_, err := serverConfig(t, tc.flag, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want an error naming %s", tc.flag, tc.value, err, tc.want)
		}
	}
}

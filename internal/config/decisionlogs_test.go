package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/config"
)

func TestDecisionLogs_DefaultsAreDocumented(t *testing.T) {
	for _, env := range []string{"IAM_DECISION_LOG_RETENTION", "IAM_DECISION_LOG_MAX_BYTES", "IAM_DECISION_LOG_MAX_EVENTS"} {
		t.Setenv(env, "") // restored when the test ends
		os.Unsetenv(env)
	}
	c, err := serverConfig(t)
	want := config.DecisionLogs{Retention: 720 * time.Hour, MaxBytes: 8 << 20, MaxEvents: 10000}
	if err != nil || c.DecisionLogs != want {
		t.Errorf("decision logs %+v, %v; want %+v", c.DecisionLogs, err, want)
	}
}

func TestDecisionLogs_FlagsSetTheLimits(t *testing.T) {
	c, err := serverConfig(t, "--decision-log-retention", "2s", "--decision-log-max-bytes", "1024", "--decision-log-max-events", "3")
	want := config.DecisionLogs{Retention: 2 * time.Second, MaxBytes: 1024, MaxEvents: 3}
	if err != nil || c.DecisionLogs != want {
		t.Errorf("decision logs %+v, %v; want %+v", c.DecisionLogs, err, want)
	}
}

func TestDecisionLogs_BadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--decision-log-retention", "0", "IAM_DECISION_LOG_RETENTION"},
		{"--decision-log-retention", "forever", "IAM_DECISION_LOG_RETENTION"},
		{"--decision-log-max-bytes", "8MiB", "IAM_DECISION_LOG_MAX_BYTES"},
		{"--decision-log-max-bytes", "-1", "IAM_DECISION_LOG_MAX_BYTES"},
		{"--decision-log-max-events", "0", "IAM_DECISION_LOG_MAX_EVENTS"},
	} {
		_, err := serverConfig(t, tc.flag, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want an error naming %s", tc.flag, tc.value, err, tc.want)
		}
	}
}

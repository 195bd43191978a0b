package config_test

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/identity"
)

func TestHashing_DefaultsAreSizedToTheCores(t *testing.T) {
	for _, env := range []string{"IAM_HASH_CONCURRENCY", "IAM_HASH_QUEUE", "IAM_HASH_MAX_WAIT"} {
		t.Setenv(env, "") // restored when the test ends
		os.Unsetenv(env)
	}
	c, err := serverConfig(t)
	if err != nil {
		t.Fatal(err)
	}
	n := runtime.GOMAXPROCS(0)
	want := identity.HashLimits{Slots: n, Queue: 4 * n, MaxWait: 2 * time.Second}
	if c.Hashing != want {
		t.Errorf("hashing %+v, want %+v", c.Hashing, want)
	}
}

func TestHashing_SettingsAndTheirErrors(t *testing.T) {
	for _, c := range []struct {
		args    []string
		want    identity.HashLimits
		problem string
	}{
		{[]string{"--hash-concurrency", "3"}, identity.HashLimits{Slots: 3, Queue: 12, MaxWait: 2 * time.Second}, ""},
		{[]string{"--hash-concurrency", "1", "--hash-queue", "0", "--hash-max-wait", "250ms"}, identity.HashLimits{Slots: 1, MaxWait: 250 * time.Millisecond}, ""},
		{[]string{"--hash-concurrency", "0"}, identity.HashLimits{}, "IAM_HASH_CONCURRENCY"},
		{[]string{"--hash-concurrency", "many"}, identity.HashLimits{}, "IAM_HASH_CONCURRENCY"},
		{[]string{"--hash-queue", "-1"}, identity.HashLimits{}, "IAM_HASH_QUEUE"},
		{[]string{"--hash-max-wait", "0s"}, identity.HashLimits{}, "IAM_HASH_MAX_WAIT"},
		{[]string{"--hash-max-wait", "2"}, identity.HashLimits{}, "IAM_HASH_MAX_WAIT"},
	} {
		got, err := serverConfig(t, c.args...)
		switch {
		case c.problem == "" && (err != nil || got.Hashing != c.want):
			t.Errorf("%v: hashing %+v, %v; want %+v", c.args, got.Hashing, err, c.want)
		case c.problem != "" && (err == nil || !strings.Contains(err.Error(), c.problem)):
			t.Errorf("%v: error %v, want one naming %s", c.args, err, c.problem)
		}
	}
}

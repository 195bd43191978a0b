package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/config"
)

func TestParseDatabase_SchemeSelectsTheStore(t *testing.T) {
	for _, tc := range []struct {
		url, dataDir string
		want         config.Database
	}{
		{"", "./data", config.Database{Kind: config.SQLite, Path: filepath.Join("data", "iam.db"), DataDir: "./data"}},
		{"", "/var/lib/iam", config.Database{Kind: config.SQLite, Path: "/var/lib/iam/iam.db", DataDir: "/var/lib/iam"}},
		{"sqlite:///srv/iam/iam.db", "./data", config.Database{Kind: config.SQLite, Path: "/srv/iam/iam.db"}},
		{"sqlite://var/iam.db", "./data", config.Database{Kind: config.SQLite, Path: "var/iam.db"}},
		{"postgres://u:pw@db:5432/gaia?sslmode=disable", "", config.Database{Kind: config.Postgres, URL: "postgres://u:pw@db:5432/gaia?sslmode=disable"}},
		{"postgresql://db/gaia", "", config.Database{Kind: config.Postgres, URL: "postgresql://db/gaia"}},
	} {
		got, err := config.ParseDatabase(tc.url, tc.dataDir)
		if err != nil || got != tc.want {
			t.Errorf("ParseDatabase(%q, %q) = %+v, %v; want %+v", tc.url, tc.dataDir, got, err, tc.want)
		}
	}
}

func TestParseDatabase_BadURLNamesTheVariableNotTheSecret(t *testing.T) {
	for _, tc := range []struct{ url, dataDir, want string }{
		{"mysql://root:s3cret@db/gaia", "", `unsupported scheme "mysql"`},
		{"host=db password=s3cret", "", "not a database URL"},
		{"pg:s3cret@db", "", "not a database URL"},
		{"Postgres://u:s3cret@db/gaia", "", `unsupported scheme "Postgres"`},
		{"sqlite://", "", "names no file"},
		{"sqlite:///srv/iam.db?_pragma=s3cret", "", "takes no parameters"},
		{"", "", "IAM_DATA_DIR must not be empty"},
	} {
		_, err := config.ParseDatabase(tc.url, tc.dataDir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseDatabase(%q) = %v, want an error containing %q", tc.url, err, tc.want)
			continue
		}
		if tc.url != "" && !strings.Contains(err.Error(), "IAM_DATABASE_URL") {
			t.Errorf("ParseDatabase(%q) = %v, want it to name IAM_DATABASE_URL", tc.url, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseDatabase(%q) error reveals the secret: %v", tc.url, err)
		}
	}
}

package migrations_test

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"testing"

	"github.com/gaia-platform/iam/migrations"
)

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.up\.sql$`)

// names lists a dialect's migrations in order, failing on a file that is
// not one.
func names(t *testing.T, files fs.FS, dir string) []string {
	t.Helper()
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !migrationName.MatchString(e.Name()) {
			t.Errorf("%s/%s: not a migration name NNNN_name.up.sql", dir, e.Name())
			continue
		}
		out = append(out, e.Name())
	}
	return out
}

// A database left at N without N-1 happened twice: a migration numbered
// past a gap, or landed before a lower one. golang-migrate applies what it
// finds in order, so the files themselves must run 0001, 0002, … with no
// gap, and both dialects must hold the same history.
func TestMigrations_NumberedInSequenceAndAlikeInBothDialects(t *testing.T) {
	pg := names(t, migrations.Postgres, "postgres")
	lite := names(t, migrations.Sqlite, "sqlite")
	for dir, list := range map[string][]string{"postgres": pg, "sqlite": lite} {
		if len(list) == 0 {
			t.Errorf("%s: no migrations", dir)
		}
		for i, name := range list {
			if want := fmt.Sprintf("%04d", i+1); migrationName.FindStringSubmatch(name)[1] != want {
				t.Errorf("%s/%s: want number %s (the migrations must run 0001, 0002, … without a gap or a repeat)", dir, name, want)
			}
		}
	}
	if !slices.Equal(pg, lite) {
		t.Errorf("the dialects' histories differ:\npostgres %v\nsqlite   %v", pg, lite)
	}
}

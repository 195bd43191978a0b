package migrations

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Apply runs the migrations in dir of files up to the newest through
// driver (named driverName, as golang-migrate knows it), and returns the
// version reached. It closes driver. A migration that failed part-way is
// an error that says how to recover.
func Apply(files fs.FS, dir, driverName string, driver database.Driver) (uint, error) {
	src, err := iofs.New(files, dir)
	if err != nil {
		driver.Close()
		return 0, err
	}
	m, err := migrate.NewWithInstance("iofs", src, driverName, driver)
	if err != nil {
		driver.Close()
		return 0, fmt.Errorf("prepare migrations: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	v, dirty, err := m.Version()
	if err != nil {
		return 0, err
	}
	if dirty {
		return v, fmt.Errorf("migration %d failed part-way: fix the schema by hand, then run iam migrate", v)
	}
	return v, nil
}

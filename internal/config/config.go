// Package config turns environment variables and flags into one validated
// Config. It reads files it is pointed at but never logs their contents.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"
)

// Config is the server's configuration after validation.
type Config struct {
	DatabaseURL    string
	HTTPAddr       string
	Issuer         string
	AccessTokenTTL time.Duration
	SigningKeyFile string
	PublicURL      string // base URL clients reach the server at
}

// Flags binds every server setting to a flag whose default comes from its
// environment variable. Call Config.Validate after parsing.
type Flags struct {
	fs   map[string]*pflag.Flag // by environment variable name
	vals map[string]*string
}

// NewFlags registers the database setting, which every command needs, on fs.
func NewFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: map[string]*pflag.Flag{}, vals: map[string]*string{}}
	f.add(fs, "IAM_DATABASE_URL", "database-url", "", "PostgreSQL URL, e.g. postgres://user@127.0.0.1:5432/gaia")
	return f
}

// AddServerFlags registers the settings of iam serve on fs.
func (f *Flags) AddServerFlags(fs *pflag.FlagSet) {
	add := func(env, flag, def, usage string) { f.add(fs, env, flag, def, usage) }
	add("IAM_HTTP_ADDR", "http-addr", "127.0.0.1:8080", "address the HTTP server listens on")
	add("IAM_ISSUER", "issuer", "gaia-iam", "the iss claim of issued tokens")
	add("IAM_ACCESS_TOKEN_TTL", "access-token-ttl", "15m", "access token lifetime, a Go duration")
	add("IAM_SIGNING_KEY_FILE", "signing-key-file", "", "RSA private key PEM (PKCS#1 or PKCS#8, >= 2048 bits); unset: generated and kept in the database")
	add("IAM_PUBLIC_URL", "public-url", "", "base URL clients use to reach this server (default http://<http-addr>)")
}

func (f *Flags) add(fs *pflag.FlagSet, env, flag, def, usage string) {
	f.vals[env] = fs.String(flag, def, usage+" (env "+env+")")
	f.fs[env] = fs.Lookup(flag)
}

// value is the flag when given, else the environment variable when set,
// else the default. Defaults, never environment values, show in --help, so
// a password in IAM_DATABASE_URL is never printed.
func (f *Flags) value(env string) string {
	if !f.fs[env].Changed {
		if v, ok := os.LookupEnv(env); ok {
			return v
		}
	}
	return *f.vals[env]
}

// Database returns the database URL, or an error naming the variable.
func (f *Flags) Database() (string, error) {
	url := f.value("IAM_DATABASE_URL")
	if url == "" {
		return "", errors.New("IAM_DATABASE_URL is not set: give a PostgreSQL URL (or --database-url)")
	}
	return url, nil
}

// Config validates every setting and returns the Config.
func (f *Flags) Config() (Config, error) {
	db, err := f.Database()
	if err != nil {
		return Config{}, err
	}
	c := Config{
		DatabaseURL:    db,
		HTTPAddr:       f.value("IAM_HTTP_ADDR"),
		Issuer:         f.value("IAM_ISSUER"),
		SigningKeyFile: f.value("IAM_SIGNING_KEY_FILE"),
		PublicURL:      f.value("IAM_PUBLIC_URL"),
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return Config{}, fmt.Errorf("IAM_HTTP_ADDR %q is not host:port", c.HTTPAddr)
	}
	if c.Issuer == "" {
		return Config{}, errors.New("IAM_ISSUER must not be empty")
	}
	ttl := f.value("IAM_ACCESS_TOKEN_TTL")
	if c.AccessTokenTTL, err = time.ParseDuration(ttl); err != nil || c.AccessTokenTTL <= 0 {
		return Config{}, fmt.Errorf("IAM_ACCESS_TOKEN_TTL %q is not a positive Go duration such as 15m", ttl)
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	}
	return c, nil
}

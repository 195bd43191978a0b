// Package config turns environment variables and flags into one validated
// Config. It reads files it is pointed at but never logs their contents.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gaia-platform/iam/internal/clientip"
	"github.com/gaia-platform/iam/internal/consolesession"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/throttle"
)

// Config is the server's configuration after validation.
type Config struct {
	Database       Database
	HTTPAddr       string
	Issuer         string
	AccessTokenTTL time.Duration
	SigningKeyFile string
	PublicURL      string // base URL clients reach the server at
	// ClientSecretPepper keys the hashes of client secrets; empty: a
	// pepper generated and kept in the database.
	ClientSecretPepper string
	// AllowPasswordGrant enables grant_type=password at /oauth/token.
	AllowPasswordGrant bool
	Sessions           Sessions
	DecisionLogs       DecisionLogs
	// Hashing bounds concurrent password hashes and the logins waiting
	// for one; the rest are shed with 503.
	Hashing identity.HashLimits
	// Throttle locks account names and client IPs after failed logins.
	Throttle throttle.Policy
	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies clientip.Proxies
	HTTPTimeouts   HTTPTimeouts
	// Console is how long an admin console sign-in lasts.
	Console consolesession.Policy
	// ShutdownGrace is how long requests in flight get to finish once
	// the server is told to stop.
	ShutdownGrace time.Duration
	// MetricsAddr is the listener of GET /metrics alone; empty: the
	// public listener serves it.
	MetricsAddr string
	// AuditVerifyInterval is how often the audit chain is verified for
	// gaia_audit_chain_ok.
	AuditVerifyInterval time.Duration
}

// DecisionLogs is how OPA decision-log uploads to POST /logs are bounded
// and kept.
type DecisionLogs struct {
	Retention time.Duration // entries are deleted this long after receipt
	MaxBytes  int64         // of one upload's JSON, after decompression
	MaxEvents int           // in one upload
}

// HTTPTimeouts bound how long a client may hold a connection.
type HTTPTimeouts struct {
	ReadHeader time.Duration // until the request's headers are in
	Read       time.Duration // until the whole request is in
	Write      time.Duration // until the response is out
	Idle       time.Duration // between requests on a kept-alive connection
}

// Sessions is the refresh-token policy.
type Sessions struct {
	RefreshTokenTTL time.Duration // absolute lifetime of a login's refresh family
	IdleTimeout     time.Duration // a family unused this long is over
	ReuseGrace      time.Duration // 0: presenting a spent token revokes its family
}

// Rotation is what iam keys rotate reads of the server's configuration.
type Rotation struct {
	Grace          time.Duration // how long a new key is published before it signs
	AccessTokenTTL time.Duration // the server's: how long replaced keys must verify
	SigningKeyFile string        // set: the server signs with this file's key, not stored ones
}

// Flags binds every server setting to a flag whose default comes from its
// environment variable. Call Config.Validate after parsing.
type Flags struct {
	// By environment variable name: one flag per command that takes it.
	fs   map[string][]*pflag.Flag
	vals map[string][]*string
}

// NewFlags registers the database settings, which every command needs, on fs.
func NewFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: map[string][]*pflag.Flag{}, vals: map[string][]*string{}}
	f.add(fs, "IAM_DATABASE_URL", "database-url", "",
		"postgres://user@host:5432/gaia (or postgresql://) for PostgreSQL, the production store; sqlite:///abs/path/iam.db or sqlite://rel/path/iam.db for SQLite; unset: SQLite at <data-dir>/iam.db")
	f.add(fs, "IAM_DATA_DIR", "data-dir", "./data", "directory of the embedded SQLite database when IAM_DATABASE_URL is unset (created 0700)")
	f.add(fs, "IAM_CLIENT_SECRET_PEPPER", "client-secret-pepper", "",
		"key (>= 32 characters) of the HMAC that client secrets are stored as; the server and the iam service commands must agree; unset: generated and kept in the database")
	f.add(fs, "IAM_LOG_FORMAT", "log-format", LogText, "format of the log lines on stderr: text (key=value) or json (one object per line)")
	return f
}

// Log formats of IAM_LOG_FORMAT.
const (
	LogText = "text"
	LogJSON = "json"
)

// LogFormat validates IAM_LOG_FORMAT: LogText or LogJSON.
func (f *Flags) LogFormat() (string, error) {
	switch v := f.value("IAM_LOG_FORMAT"); v {
	case LogText, LogJSON:
		return v, nil
	default:
		return "", fmt.Errorf("IAM_LOG_FORMAT %q is not text or json", v)
	}
}

// AddServerFlags registers the settings of iam serve on fs.
func (f *Flags) AddServerFlags(fs *pflag.FlagSet) {
	add := func(env, flag, def, usage string) { f.add(fs, env, flag, def, usage) }
	add("IAM_HTTP_ADDR", "http-addr", "127.0.0.1:8080", "address the HTTP server listens on")
	add("IAM_ISSUER", "issuer", "gaia-iam", "the iss claim of issued tokens")
	add("IAM_ACCESS_TOKEN_TTL", "access-token-ttl", "15m", "access token lifetime, a Go duration")
	add("IAM_SIGNING_KEY_FILE", "signing-key-file", "", "RSA private key PEM (PKCS#1 or PKCS#8, >= 2048 bits); unset: generated and kept in the database")
	add("IAM_REFRESH_TOKEN_TTL", "refresh-token-ttl", "720h", "lifetime of a login's refresh tokens, however often they are used, a Go duration")
	add("IAM_REFRESH_IDLE_TIMEOUT", "refresh-idle-timeout", "24h", "a session whose refresh token goes unused this long is over, a Go duration (0: no idle timeout)")
	add("IAM_REFRESH_REUSE_GRACE", "refresh-reuse-grace", "5s", "a refresh token spent this recently, whose successor is unspent, may be presented again and gets the same successor back instead of revoking the session (a client retrying a lost answer), a Go duration (0: never)")
	add("IAM_PUBLIC_URL", "public-url", "", "base URL clients use to reach this server (default http://<http-addr>)")
	add("IAM_ALLOW_PASSWORD_GRANT", "allow-password-grant", "false", "accept grant_type=password at /oauth/token (true or false)")
	add("IAM_DECISION_LOG_RETENTION", "decision-log-retention", "720h", "decision logs uploaded to POST /logs are deleted this long after they arrive, a Go duration")
	add("IAM_DECISION_LOG_MAX_BYTES", "decision-log-max-bytes", "8388608", "largest decision log upload, in bytes of JSON after decompression (413 above)")
	add("IAM_DECISION_LOG_MAX_EVENTS", "decision-log-max-events", "10000", "most decisions in one decision log upload (413 above)")
	add("IAM_HASH_CONCURRENCY", "hash-concurrency", "", "password hashes computed at once, each holding 19 MiB (default: GOMAXPROCS, one per core)")
	add("IAM_HASH_QUEUE", "hash-queue", "", "logins that may wait for a hashing slot; beyond them a login gets 503 at once (default: 4 per slot)")
	add("IAM_HASH_MAX_WAIT", "hash-max-wait", "2s", "longest a login waits for a hashing slot before it gets 503, a Go duration")
	add("IAM_LOGIN_MAX_FAILURES_USER", "login-max-failures-user", "5", "failed logins of one account name within the failure window that lock it")
	add("IAM_LOGIN_MAX_FAILURES_IP", "login-max-failures-ip", "50", "failed logins from one client IP within the failure window that block it")
	add("IAM_LOGIN_FAILURE_WINDOW", "login-failure-window", "15m", "the sliding window failed logins are counted in, a Go duration")
	add("IAM_LOGIN_LOCK_BASE", "login-lock-base", "1m", "length of a first lock or block; each successive one lasts twice as long, a Go duration")
	add("IAM_LOGIN_LOCK_MAX", "login-lock-max", "1h", "the longest a lock or block lasts, a Go duration")
	add("IAM_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (empty: the TCP peer is the client)")
	add("IAM_CONSOLE_IDLE_TIMEOUT", "console-idle-timeout", "30m", "an admin console session unused this long is over, a Go duration")
	add("IAM_CONSOLE_SESSION_LIFETIME", "console-session-lifetime", "10h", "an admin console session is over this long after sign-in, however active, a Go duration")
	add("IAM_HTTP_READ_HEADER_TIMEOUT", "http-read-header-timeout", "10s", "time a client has to send a request's headers, a Go duration")
	add("IAM_HTTP_READ_TIMEOUT", "http-read-timeout", "30s", "time a client has to send a whole request, a Go duration")
	add("IAM_HTTP_WRITE_TIMEOUT", "http-write-timeout", "30s", "time the server has to write a response, a Go duration")
	add("IAM_HTTP_IDLE_TIMEOUT", "http-idle-timeout", "120s", "time a kept-alive connection may sit idle, a Go duration")
	add("IAM_SHUTDOWN_GRACE", "shutdown-grace", "10s", "on SIGTERM or SIGINT, time requests in flight get to finish before their connections are closed, a Go duration")
	add("IAM_METRICS_ADDR", "metrics-addr", "", "address of a listener serving only GET /metrics (Prometheus); unset: the HTTP server serves it")
	add("IAM_AUDIT_VERIFY_INTERVAL", "audit-verify-interval", "15m", "how often the server verifies the whole audit chain for the gaia_audit_chain_ok metric, a Go duration")
}

// AddRotationFlags registers the settings of iam keys rotate on fs.
func (f *Flags) AddRotationFlags(fs *pflag.FlagSet) {
	f.add(fs, "IAM_KEY_ROTATION_GRACE", "key-rotation-grace", "5m",
		"how long a new signing key is published before it signs, so that every JWKS cache and SDK holds it first, a Go duration")
	f.add(fs, "IAM_ACCESS_TOKEN_TTL", "access-token-ttl", "15m", "the server's access token lifetime: replaced keys verify that long after the new key signs, a Go duration")
	f.add(fs, "IAM_SIGNING_KEY_FILE", "signing-key-file", "", "the server's signing key file, when it uses one: then rotating means deploying a new file")
}

func (f *Flags) add(fs *pflag.FlagSet, env, flag, def, usage string) {
	f.vals[env] = append(f.vals[env], fs.String(flag, def, usage+" (env "+env+")"))
	f.fs[env] = append(f.fs[env], fs.Lookup(flag))
}

// value is the flag when given, else the environment variable when set,
// else the default. Defaults, never environment values, show in --help, so
// a password in IAM_DATABASE_URL is never printed. Of the commands that
// take a setting, only the one running can have been given it.
func (f *Flags) value(env string) string {
	for i, fl := range f.fs[env] {
		if fl.Changed {
			return *f.vals[env][i]
		}
	}
	if v, ok := os.LookupEnv(env); ok {
		return v
	}
	return *f.vals[env][0]
}

// Database returns the store to open, or an error naming the variable.
func (f *Flags) Database() (Database, error) {
	return ParseDatabase(f.value("IAM_DATABASE_URL"), f.value("IAM_DATA_DIR"))
}

// ClientSecretPepper returns the configured pepper of client secret
// hashes, empty when unset.
func (f *Flags) ClientSecretPepper() (string, error) {
	p := f.value("IAM_CLIENT_SECRET_PEPPER")
	if p != "" && len(p) < 32 {
		return "", errors.New("IAM_CLIENT_SECRET_PEPPER must be at least 32 characters (e.g. openssl rand -base64 32)")
	}
	return p, nil
}

// Config validates every setting and returns the Config.
func (f *Flags) Config() (Config, error) {
	db, err := f.Database()
	if err != nil {
		return Config{}, err
	}
	c := Config{
		Database:       db,
		HTTPAddr:       f.value("IAM_HTTP_ADDR"),
		Issuer:         f.value("IAM_ISSUER"),
		SigningKeyFile: f.value("IAM_SIGNING_KEY_FILE"),
		PublicURL:      f.value("IAM_PUBLIC_URL"),
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return Config{}, fmt.Errorf("IAM_HTTP_ADDR %q is not host:port", c.HTTPAddr)
	}
	if c.MetricsAddr = f.value("IAM_METRICS_ADDR"); c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return Config{}, fmt.Errorf("IAM_METRICS_ADDR %q is not host:port", c.MetricsAddr)
		}
	}
	if c.Issuer == "" {
		return Config{}, errors.New("IAM_ISSUER must not be empty")
	}
	if c.AccessTokenTTL, err = f.accessTokenTTL(); err != nil {
		return Config{}, err
	}
	if c.ClientSecretPepper, err = f.ClientSecretPepper(); err != nil {
		return Config{}, err
	}
	switch v := f.value("IAM_ALLOW_PASSWORD_GRANT"); v {
	case "true", "false":
		c.AllowPasswordGrant = v == "true"
	default:
		return Config{}, fmt.Errorf("IAM_ALLOW_PASSWORD_GRANT %q is not true or false", v)
	}
	if c.Sessions, err = f.sessions(); err != nil {
		return Config{}, err
	}
	if c.DecisionLogs, err = f.decisionLogs(); err != nil {
		return Config{}, err
	}
	if c.Hashing, err = f.hashing(); err != nil {
		return Config{}, err
	}
	if c.Throttle, err = f.throttle(); err != nil {
		return Config{}, err
	}
	if c.TrustedProxies, err = clientip.ParseProxies(f.value("IAM_TRUSTED_PROXIES")); err != nil {
		return Config{}, err
	}
	if err = f.positiveDurations(map[string]*time.Duration{
		"IAM_CONSOLE_IDLE_TIMEOUT": &c.Console.IdleTimeout, "IAM_CONSOLE_SESSION_LIFETIME": &c.Console.Lifetime,
		"IAM_AUDIT_VERIFY_INTERVAL": &c.AuditVerifyInterval,
	}); err != nil {
		return Config{}, err
	}
	if c.HTTPTimeouts, err = f.httpTimeouts(); err != nil {
		return Config{}, err
	}
	if err = f.positiveDurations(map[string]*time.Duration{"IAM_SHUTDOWN_GRACE": &c.ShutdownGrace}); err != nil {
		return Config{}, err
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.HTTPAddr
	}
	return c, nil
}

func (f *Flags) accessTokenTTL() (time.Duration, error) {
	v := f.value("IAM_ACCESS_TOKEN_TTL")
	ttl, err := time.ParseDuration(v)
	if err != nil || ttl <= 0 {
		return 0, fmt.Errorf("IAM_ACCESS_TOKEN_TTL %q is not a positive Go duration such as 15m", v)
	}
	return ttl, nil
}

// Rotation validates the settings of iam keys rotate.
func (f *Flags) Rotation() (Rotation, error) {
	r := Rotation{SigningKeyFile: f.value("IAM_SIGNING_KEY_FILE")}
	v := f.value("IAM_KEY_ROTATION_GRACE")
	var err error
	if r.Grace, err = time.ParseDuration(v); err != nil || r.Grace < 0 {
		return Rotation{}, fmt.Errorf("IAM_KEY_ROTATION_GRACE %q is not a Go duration such as 5m", v)
	}
	if r.AccessTokenTTL, err = f.accessTokenTTL(); err != nil {
		return Rotation{}, err
	}
	return r, nil
}

func (f *Flags) decisionLogs() (DecisionLogs, error) {
	var d DecisionLogs
	v := f.value("IAM_DECISION_LOG_RETENTION")
	var err error
	if d.Retention, err = time.ParseDuration(v); err != nil || d.Retention <= 0 {
		return d, fmt.Errorf("IAM_DECISION_LOG_RETENTION %q is not a positive Go duration such as 720h", v)
	}
	v = f.value("IAM_DECISION_LOG_MAX_BYTES")
	if d.MaxBytes, err = strconv.ParseInt(v, 10, 64); err != nil || d.MaxBytes <= 0 {
		return d, fmt.Errorf("IAM_DECISION_LOG_MAX_BYTES %q is not a positive number of bytes", v)
	}
	v = f.value("IAM_DECISION_LOG_MAX_EVENTS")
	if d.MaxEvents, err = strconv.Atoi(v); err != nil || d.MaxEvents <= 0 {
		return d, fmt.Errorf("IAM_DECISION_LOG_MAX_EVENTS %q is not a positive number", v)
	}
	return d, nil
}

// hashing reads the password hashing bounds: unset, one slot per core and
// a queue of four logins per slot.
func (f *Flags) hashing() (identity.HashLimits, error) {
	l := identity.DefaultHashLimits()
	if v := f.value("IAM_HASH_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return l, fmt.Errorf("IAM_HASH_CONCURRENCY %q is not a positive integer", v)
		}
		l.Slots = n
	}
	l.Queue = 4 * l.Slots
	if v := f.value("IAM_HASH_QUEUE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return l, fmt.Errorf("IAM_HASH_QUEUE %q is not an integer >= 0", v)
		}
		l.Queue = n
	}
	v := f.value("IAM_HASH_MAX_WAIT")
	var err error
	if l.MaxWait, err = time.ParseDuration(v); err != nil || l.MaxWait <= 0 {
		return l, fmt.Errorf("IAM_HASH_MAX_WAIT %q is not a positive Go duration such as 2s", v)
	}
	return l, nil
}

func (f *Flags) throttle() (throttle.Policy, error) {
	var p throttle.Policy
	for _, n := range []struct {
		env string
		to  *int
	}{
		{"IAM_LOGIN_MAX_FAILURES_USER", &p.MaxUserFailures},
		{"IAM_LOGIN_MAX_FAILURES_IP", &p.MaxIPFailures},
	} {
		v := f.value(n.env)
		var err error
		if *n.to, err = strconv.Atoi(v); err != nil || *n.to < 1 {
			return p, fmt.Errorf("%s %q is not a whole number of at least 1", n.env, v)
		}
	}
	if err := f.positiveDurations(map[string]*time.Duration{
		"IAM_LOGIN_FAILURE_WINDOW": &p.Window, "IAM_LOGIN_LOCK_BASE": &p.LockBase, "IAM_LOGIN_LOCK_MAX": &p.LockMax,
	}); err != nil {
		return p, err
	}
	if p.LockMax < p.LockBase {
		return p, fmt.Errorf("IAM_LOGIN_LOCK_MAX %s is shorter than IAM_LOGIN_LOCK_BASE %s", p.LockMax, p.LockBase)
	}
	return p, nil
}

func (f *Flags) httpTimeouts() (HTTPTimeouts, error) {
	var t HTTPTimeouts
	return t, f.positiveDurations(map[string]*time.Duration{
		"IAM_HTTP_READ_HEADER_TIMEOUT": &t.ReadHeader, "IAM_HTTP_READ_TIMEOUT": &t.Read,
		"IAM_HTTP_WRITE_TIMEOUT": &t.Write, "IAM_HTTP_IDLE_TIMEOUT": &t.Idle,
	})
}

// positiveDurations parses each variable into its duration, every one of
// which must be positive.
func (f *Flags) positiveDurations(to map[string]*time.Duration) error {
	for _, env := range slices.Sorted(maps.Keys(to)) {
		v := f.value(env)
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s %q is not a positive Go duration such as 30s", env, v)
		}
		*to[env] = d
	}
	return nil
}

func (f *Flags) sessions() (Sessions, error) {
	var s Sessions
	var err error
	if s.RefreshTokenTTL, err = f.sessionDuration("IAM_REFRESH_TOKEN_TTL", true); err != nil {
		return Sessions{}, err
	}
	if s.IdleTimeout, err = f.RefreshIdleTimeout(); err != nil {
		return Sessions{}, err
	}
	if s.ReuseGrace, err = f.sessionDuration("IAM_REFRESH_REUSE_GRACE", false); err != nil {
		return Sessions{}, err
	}
	if s.ReuseGrace > time.Minute {
		return Sessions{}, fmt.Errorf("IAM_REFRESH_REUSE_GRACE %s is longer than 1m: a grace is for a client retrying a lost response", s.ReuseGrace)
	}
	return s, nil
}

// AddSessionFlags registers what iam session list reads of the server's
// configuration on fs.
func (f *Flags) AddSessionFlags(fs *pflag.FlagSet) {
	f.add(fs, "IAM_REFRESH_IDLE_TIMEOUT", "refresh-idle-timeout", "24h",
		"the server's: a session whose refresh token goes unused this long is over, a Go duration (0: no idle timeout)")
}

// RefreshIdleTimeout validates IAM_REFRESH_IDLE_TIMEOUT.
func (f *Flags) RefreshIdleTimeout() (time.Duration, error) {
	return f.sessionDuration("IAM_REFRESH_IDLE_TIMEOUT", false)
}

// sessionDuration parses a session setting: a Go duration, not negative,
// and when positive is set not zero either.
func (f *Flags) sessionDuration(env string, positive bool) (time.Duration, error) {
	v := f.value(env)
	d, err := time.ParseDuration(v)
	switch {
	case err != nil || d < 0:
		return 0, fmt.Errorf("%s %q is not a Go duration such as 24h", env, v)
	case positive && d == 0:
		return 0, fmt.Errorf("%s %q must be positive", env, v)
	}
	return d, nil
}

// Store kinds.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// Database says which store to open.
type Database struct {
	Kind string // Postgres or SQLite
	URL  string // PostgreSQL: the connection URL, which may hold a password
	Path string // SQLite: the database file
	// DataDir is set when Path is the default one in IAM_DATA_DIR, which
	// is then created; a path given in IAM_DATABASE_URL must have its
	// directory already.
	DataDir string
}

// DefaultSQLiteFile is the database file's name in IAM_DATA_DIR.
const DefaultSQLiteFile = "iam.db"

var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// ParseDatabase reads IAM_DATABASE_URL (url) and IAM_DATA_DIR (dataDir).
// Errors never repeat the URL: it may hold a password.
func ParseDatabase(url, dataDir string) (Database, error) {
	if url == "" {
		if dataDir == "" {
			return Database{}, errors.New("IAM_DATA_DIR must not be empty when IAM_DATABASE_URL is unset")
		}
		return Database{Kind: SQLite, Path: filepath.Join(dataDir, DefaultSQLiteFile), DataDir: dataDir}, nil
	}
	const want = "want postgres://…, postgresql://… or sqlite:///path/to/iam.db, or leave it unset for SQLite in IAM_DATA_DIR"
	scheme, rest, ok := strings.Cut(url, "://")
	switch {
	case !ok || !urlScheme.MatchString(scheme):
		return Database{}, fmt.Errorf("IAM_DATABASE_URL is not a database URL: %s", want)
	case scheme == "postgres" || scheme == "postgresql":
		return Database{Kind: Postgres, URL: url}, nil
	case scheme != "sqlite":
		return Database{}, fmt.Errorf("IAM_DATABASE_URL has the unsupported scheme %q: %s", scheme, want)
	case rest == "":
		return Database{}, errors.New("IAM_DATABASE_URL sqlite:// names no file: use sqlite:///abs/path/iam.db or sqlite://rel/path/iam.db")
	case strings.ContainsAny(rest, "?#"):
		return Database{}, errors.New("IAM_DATABASE_URL: a sqlite:// URL takes no parameters; the store sets its own")
	}
	return Database{Kind: SQLite, Path: rest}, nil
}

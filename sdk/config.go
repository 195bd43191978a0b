package sdk

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Config configures an Authorizer.
type Config struct {
	// IAMURL is the IAM's base URL, e.g. "http://127.0.0.1:8080".
	IAMURL string
	// PollInterval is how often the bundle and the JWKS are polled.
	// Changes reach the service within about one interval. Default 10s.
	PollInterval time.Duration
	// CacheDir, when set, keeps the last good bundle and JWKS on disk so
	// that a restarted service decides before the IAM is back.
	CacheDir string
	// HTTPClient fetches the JWKS. Default: a client with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives background errors (failed polls, refused bundles).
	// Default: slog.Default().
	Logger *slog.Logger
	// DecisionCacheSize bounds the number of cached decisions. Default 10,000.
	DecisionCacheSize int
	// DecisionLogs, when set, ships decisions to the IAM's decision log.
	DecisionLogs *DecisionLogs
}

const (
	bundleName     = "gaia"
	bundlePath     = "/bundles/gaia.tar.gz"
	jwksPath       = "/.well-known/jwks.json"
	decisionQuery  = "gaia/authz/decision"
	principalQuery = "gaia/authz/principal"
)

func (c *Config) validate() error {
	u, err := url.Parse(c.IAMURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("sdk: Config.IAMURL must be an http(s) URL such as http://127.0.0.1:8080")
	}
	if c.PollInterval == 0 {
		c.PollInterval = 10 * time.Second
	}
	if c.PollInterval < time.Second {
		return errors.New("sdk: Config.PollInterval must be at least one second")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DecisionCacheSize <= 0 {
		c.DecisionCacheSize = 10_000
	}
	if c.DecisionLogs != nil {
		d := *c.DecisionLogs
		if err := d.validate(c.IAMURL, c.HTTPClient); err != nil {
			return err
		}
		c.DecisionLogs = &d
	}
	return nil
}

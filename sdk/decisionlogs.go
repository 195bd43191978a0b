package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DecisionLogs makes the embedded OPA upload the decisions it evaluates to
// the IAM (POST /logs, OPA's decision-log protocol), authenticated as a
// service account holding iam.decisions.write (the built-in role
// iam-decision-logger). The IAM stores them with the token redacted.
//
// Decisions answered from the SDK's decision cache are not evaluated
// again, so not logged again: each (token, permission, bundle revision) is
// logged once, when first decided.
type DecisionLogs struct {
	// ClientID and ClientSecret are the service account's credentials;
	// the SDK gets and renews its tokens at the IAM's /oauth/token.
	ClientID     string
	ClientSecret string
	// TokenSource, instead of ClientID and ClientSecret, supplies the
	// bearer tokens of the uploads.
	TokenSource oauth2.TokenSource
	// MinDelay and MaxDelay bound the wait between two uploads, in whole
	// seconds. Default 10s and 30s. Close uploads what is left.
	MinDelay, MaxDelay time.Duration
}

const (
	logsService    = "iam-decision-logs"
	logsAuthPlugin = "gaia_iam_decision_log_auth"
	oauthTokenPath = "/oauth/token"
)

func (d *DecisionLogs) validate(iamURL string, client *http.Client) error {
	switch {
	case d.TokenSource == nil && (d.ClientID == "" || d.ClientSecret == ""):
		return errors.New("sdk: Config.DecisionLogs needs ClientID and ClientSecret, or a TokenSource")
	case d.TokenSource != nil && (d.ClientID != "" || d.ClientSecret != ""):
		return errors.New("sdk: Config.DecisionLogs takes ClientID and ClientSecret or a TokenSource, not both")
	}
	if d.MinDelay == 0 && d.MaxDelay == 0 {
		d.MinDelay, d.MaxDelay = 10*time.Second, 30*time.Second
	}
	if d.MinDelay < time.Second || d.MaxDelay < d.MinDelay || d.MinDelay%time.Second != 0 || d.MaxDelay%time.Second != 0 {
		return errors.New("sdk: Config.DecisionLogs MinDelay and MaxDelay must be whole seconds, at least 1s, MinDelay <= MaxDelay")
	}
	if d.TokenSource == nil {
		cc := clientcredentials.Config{ClientID: d.ClientID, ClientSecret: d.ClientSecret,
			TokenURL: strings.TrimRight(iamURL, "/") + oauthTokenPath, AuthStyle: oauth2.AuthStyleInHeader}
		d.TokenSource = cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, client))
	}
	return nil
}

// opaConfig adds the upload service and the decision_logs plugin to cfg.
func (d *DecisionLogs) opaConfig(cfg map[string]any, iamURL string) {
	cfg["services"].(map[string]any)[logsService] = map[string]any{
		"url": iamURL, "credentials": map[string]any{"plugin": logsAuthPlugin},
	}
	cfg["plugins"] = map[string]any{logsAuthPlugin: map[string]any{}}
	cfg["decision_logs"] = map[string]any{
		"service": logsService,
		"reporting": map[string]any{
			"min_delay_seconds": int(d.MinDelay.Seconds()), "max_delay_seconds": int(d.MaxDelay.Seconds()),
		},
	}
}

// tokenAuth authenticates OPA's uploads with a bearer token from an
// oauth2.TokenSource. It is an OPA plugin so that a service's credentials
// can name it. OPA's own oauth2 credentials would do the same but insist
// on an https token URL, which a development IAM does not have.
type tokenAuth struct {
	src     oauth2.TokenSource
	client  *http.Client
	manager *plugins.Manager
}

// Start reports the plugin ready: OPA, and so the Authorizer, is ready
// only once every plugin is.
func (p *tokenAuth) Start(context.Context) error {
	p.manager.UpdatePluginStatus(logsAuthPlugin, &plugins.Status{State: plugins.StateOK})
	return nil
}

func (*tokenAuth) Stop(context.Context)             {}
func (*tokenAuth) Reconfigure(context.Context, any) {}

// NewClient is the client OPA uploads with.
func (p *tokenAuth) NewClient(rest.Config) (*http.Client, error) { return p.client, nil }

// Prepare adds the bearer token, getting a new one when it has expired.
func (p *tokenAuth) Prepare(req *http.Request) error {
	tok, err := p.src.Token()
	if err != nil {
		return fmt.Errorf("gaia sdk: decision log upload token: %w", err)
	}
	tok.SetAuthHeader(req)
	return nil
}

// tokenAuthFactory makes a tokenAuth for each of OPA's plugin managers (a
// key rotation makes a new one), all sharing one token source and so its
// cached token.
type tokenAuthFactory struct {
	src    oauth2.TokenSource
	client *http.Client
}

func (tokenAuthFactory) Validate(*plugins.Manager, []byte) (any, error) { return struct{}{}, nil }

func (f tokenAuthFactory) New(m *plugins.Manager, _ any) plugins.Plugin {
	return &tokenAuth{src: f.src, client: f.client, manager: m}
}

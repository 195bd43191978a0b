package sdk

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// keySet is the IAM's published keys: the raw JWKS document and each RSA
// key's PEM by kid, the form OPA's bundle verification takes.
type keySet struct {
	raw  []byte
	pems map[string]string
}

func parseKeySet(raw []byte) (keySet, error) {
	set, err := jwk.Parse(raw)
	if err != nil {
		return keySet{}, fmt.Errorf("parse JWKS: %w", err)
	}
	ks := keySet{raw: raw, pems: map[string]string{}}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		var pub rsa.PublicKey
		if k.KeyID() == "" || k.Raw(&pub) != nil {
			continue // only RSA keys with a kid can sign Gaia bundles
		}
		der, err := x509.MarshalPKIXPublicKey(&pub)
		if err != nil {
			return keySet{}, err
		}
		ks.pems[k.KeyID()] = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	if len(ks.pems) == 0 {
		return keySet{}, errors.New("JWKS holds no RSA key with a kid")
	}
	return ks, nil
}

// sameKeys reports whether two key sets hold the same keys.
func (ks keySet) sameKeys(other keySet) bool {
	if len(ks.pems) != len(other.pems) {
		return false
	}
	for kid, p := range ks.pems {
		if other.pems[kid] != p {
			return false
		}
	}
	return true
}

func (a *Authorizer) fetchKeys(ctx context.Context) (keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(a.cfg.IAMURL, "/")+jwksPath, nil)
	if err != nil {
		return keySet{}, err
	}
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return keySet{}, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return keySet{}, fmt.Errorf("fetch JWKS: %s", resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return keySet{}, fmt.Errorf("fetch JWKS: %w", err)
	}
	return parseKeySet(raw)
}

func (a *Authorizer) keysFile() string { return filepath.Join(a.cfg.CacheDir, "jwks.json") }

// saveKeys keeps the JWKS beside the persisted bundle it verifies.
func (a *Authorizer) saveKeys(ks keySet) {
	if a.cfg.CacheDir == "" {
		return
	}
	tmp := a.keysFile() + ".tmp"
	if err := os.WriteFile(tmp, ks.raw, 0o600); err == nil {
		err = os.Rename(tmp, a.keysFile())
		if err != nil {
			a.cfg.Logger.Warn("gaia sdk: cannot cache JWKS", "err", err)
		}
	}
}

func (a *Authorizer) loadSavedKeys() (keySet, error) {
	if a.cfg.CacheDir == "" {
		return keySet{}, errors.New("no cache directory")
	}
	raw, err := os.ReadFile(a.keysFile())
	if err != nil {
		return keySet{}, err
	}
	return parseKeySet(raw)
}

// opaConfig is the embedded OPA's configuration: one signed bundle from the
// IAM, verified with the IAM's published keys.
func (a *Authorizer) opaConfig(ks keySet) ([]byte, error) {
	keys := map[string]any{}
	for kid, p := range ks.pems {
		keys[kid] = map[string]any{"key": p, "algorithm": "RS256"}
	}
	delay := int(a.cfg.PollInterval.Seconds())
	b := map[string]any{
		"service":  "iam",
		"resource": bundlePath,
		"polling":  map[string]any{"min_delay_seconds": delay, "max_delay_seconds": delay},
		// A signing block, even an empty one, makes a signature mandatory;
		// without a keyid the signature's kid picks one of the keys above
		// and nothing else.
		"signing": map[string]any{},
	}
	cfg := map[string]any{
		"services": map[string]any{"iam": map[string]any{"url": a.cfg.IAMURL}},
		"bundles":  map[string]any{bundleName: b},
		"keys":     keys,
		"caching": map[string]any{"inter_query_builtin_value_cache": map[string]any{
			"named": map[string]any{"io_jwt": map[string]any{"max_num_entries": a.cfg.DecisionCacheSize}},
		}},
	}
	if a.cfg.CacheDir != "" {
		b["persist"] = true
		cfg["persistence_directory"] = a.cfg.CacheDir
	}
	if a.cfg.DecisionLogs != nil {
		a.cfg.DecisionLogs.opaConfig(cfg, a.cfg.IAMURL)
	}
	return json.Marshal(cfg)
}

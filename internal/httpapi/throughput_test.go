package httpapi_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"

	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Keycloak's sizing guide plans these rates per vCPU.
const (
	keycloakClientCredentialsPerVCPU = 120
	keycloakRefreshesPerVCPU         = 120
	keycloakPasswordLoginsPerVCPU    = 15
)

// loadTarget is a running server on PostgreSQL, signing with a key of the
// size the server generates, with one user and one service account.
type loadTarget struct {
	iam          *testkit.IAM
	keyFile      string
	srv          *testkit.Server
	key          *rsa.PrivateKey
	client       *http.Client
	workers      int
	clientID     string
	clientSecret string
	database     string // the server's PostgreSQL database
}

const loadPassword = "correct horse battery"

func newLoadTarget(b *testing.B) *loadTarget {
	b.Helper()
	if os.Getenv(testkit.EnvDatabaseURL) == "" {
		b.Fatalf("load benchmarks run against PostgreSQL: set %s (make bench does)", testkit.EnvDatabaseURL)
	}
	stored, err := tokens.GenerateStoredKey(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	key, err := tokens.ParsePrivateKeyPEM(stored.PrivatePEM)
	if err != nil {
		b.Fatal(err)
	}
	keyFile := filepath.Join(b.TempDir(), "signing-key.pem")
	if err := os.WriteFile(keyFile, stored.PrivatePEM, 0o600); err != nil {
		b.Fatal(err)
	}
	iam := testkit.NewIAM(b)
	iam.WithUser("alice", loadPassword, "Viewer")
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(iam.Must("", "service", "create", "loadgen", "--role", "Viewer", "--output", "json")), &creds); err != nil {
		b.Fatal(err)
	}
	dbURL, err := url.Parse(iam.DatabaseURL)
	if err != nil {
		b.Fatal(err)
	}
	workers := 2 * runtime.GOMAXPROCS(0)
	return &loadTarget{
		iam: iam, keyFile: keyFile,
		database: strings.TrimPrefix(dbURL.Path, "/"),
		srv:      iam.Serve("--signing-key-file", keyFile),
		key:      key,
		client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}},
		workers:  workers, clientID: creds.ClientID, clientSecret: creds.ClientSecret,
	}
}

// post sends one request and decodes a 200 answer into out.
func (l *loadTarget) post(path, contentType, body string, out any) error {
	resp, err := l.client.Post(l.srv.URL+path, contentType, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

type pair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (l *loadTarget) login() (pair, error) {
	var p pair
	body, _ := json.Marshal(map[string]string{"username": "alice", "password": loadPassword})
	return p, l.post("/auth/login", "application/json", string(body), &p)
}

// drive runs op b.N times spread over the target's workers, each on its
// own keep-alive connection, and returns how many ran and for how long.
func (l *loadTarget) drive(b *testing.B, op func(worker int) error) (int, time.Duration) {
	b.Helper()
	jobs := make(chan struct{})
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Go(func() {
			for range jobs {
				if err := op(w); err != nil && failures.Add(1) <= 3 {
					b.Error(err)
				}
			}
		})
	}
	n := 0
	start := time.Now()
	for b.Loop() {
		jobs <- struct{}{}
		n++
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, n)
	}
	return n, elapsed
}

// rate is a throughput both ways: per second of wall time with every core
// available, and per second of CPU time spent, which other work on a
// shared machine skews less.
type rate struct {
	perSecond    float64
	perCPUSecond float64
}

// measure runs the load between two measurements of its physical limit,
// limit, whose mean it compares the load's rate to: other work on the
// machine then weighs on both alike. The load's CPU time is this
// process's (server and load generator) plus that of the PostgreSQL
// backends serving it. It reports the rates, per core, beside Keycloak's
// per-vCPU plan.
func (l *loadTarget) measure(b *testing.B, unit string, keycloakPerVCPU float64, limitUnit string, limit func() rate, op func(worker int) error) {
	b.Helper()
	before := limit()
	cpu := l.cpuTime(b)
	n, elapsed := l.drive(b, op)
	cpu = l.cpuTime(b) - cpu
	after := limit()
	load := rate{float64(n) / elapsed.Seconds(), float64(n) / cpu.Seconds()}
	bound := rate{(before.perSecond + after.perSecond) / 2, (before.perCPUSecond + after.perCPUSecond) / 2}
	cores := float64(runtime.GOMAXPROCS(0))
	b.ReportMetric(load.perSecond, unit+"/s")
	b.ReportMetric(load.perSecond/cores, unit+"/s/core")
	b.ReportMetric(load.perCPUSecond, unit+"/cpu-s")
	b.ReportMetric(keycloakPerVCPU, "keycloak-"+unit+"/s/vcpu")
	b.ReportMetric(bound.perSecond, limitUnit+"/s")
	b.ReportMetric(bound.perCPUSecond, limitUnit+"/cpu-s")
	b.ReportMetric(100*load.perSecond/bound.perSecond, "%-of-"+limitUnit)
	b.ReportMetric(100*load.perCPUSecond/bound.perCPUSecond, "%-of-"+limitUnit+"-cpu")
}

// cpuTime is the CPU time used so far by this process and by the
// PostgreSQL backends connected to the target's database.
func (l *loadTarget) cpuTime(b *testing.B) time.Duration {
	b.Helper()
	return processCPU() + l.databaseCPU(b)
}

// databaseCPU is the CPU time used so far by the PostgreSQL backends
// connected to the target's database.
func (l *loadTarget) databaseCPU(b *testing.B) time.Duration {
	b.Helper()
	var total time.Duration
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv(testkit.EnvDatabaseURL))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, l.database)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	for _, pid := range pids {
		total += backendCPU(pid)
	}
	return total
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU reads a PostgreSQL backend's user and system time from
// /proc/PID/stat (fields 14 and 15, in ticks of 10 ms); 0 when it is gone
// or not on this machine.
func backendCPU(pid int32) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// BenchmarkThroughput_ClientCredentials: POST /oauth/token with
// grant_type=client_credentials and HTTP Basic. Target: ≥ 70% of the raw
// RS256 signing rate.
func BenchmarkThroughput_ClientCredentials(b *testing.B) {
	l := newLoadTarget(b)
	signing := func() rate { return rawSigningRate(l.key) }
	l.measure(b, "grants", keycloakClientCredentialsPerVCPU, "rs256-signs", signing, func(int) error {
		return l.clientCredentials(l.srv.URL)
	})
}

// clientCredentials is one client-credentials grant at the server at base,
// with HTTP Basic.
func (l *loadTarget) clientCredentials(base string) error {
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth/token", bytes.NewBufferString(form))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(l.clientID), url.QueryEscape(l.clientSecret))
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("client_credentials grant: %d %s", resp.StatusCode, body)
	}
	return err
}

// BenchmarkThroughput_Refresh: POST /auth/refresh, each worker presenting
// the refresh token its previous refresh returned (one rotation chain per
// worker). Target: ≥ 70% of the raw RS256 signing rate.
func BenchmarkThroughput_Refresh(b *testing.B) {
	l := newLoadTarget(b)
	chains := make([]string, l.workers)
	for w := range chains {
		p, err := l.login()
		if err != nil {
			b.Fatal(err)
		}
		chains[w] = p.RefreshToken
	}
	signing := func() rate { return rawSigningRate(l.key) }
	l.measure(b, "refreshes", keycloakRefreshesPerVCPU, "rs256-signs", signing, func(w int) error {
		body, _ := json.Marshal(map[string]string{"refresh_token": chains[w]})
		var p pair
		if err := l.post("/auth/refresh", "application/json", string(body), &p); err != nil {
			return err
		}
		chains[w] = p.RefreshToken
		return nil
	})
}

// BenchmarkThroughput_PasswordLogin: POST /auth/login with the right
// password. Target: ≥ 90% of the raw argon2id rate.
func BenchmarkThroughput_PasswordLogin(b *testing.B) {
	l := newLoadTarget(b)
	hashing := func() rate { return rawArgon2Rate(identity.DefaultArgon2) }
	l.measure(b, "logins", keycloakPasswordLoginsPerVCPU, "argon2id-hashes", hashing, func(int) error {
		_, err := l.login()
		return err
	})
}

// rawSigningRate is how many RS256 signatures of a token-sized payload key
// makes with every core signing.
func rawSigningRate(key *rsa.PrivateKey) rate {
	payload := bytes.Repeat([]byte("x"), 600)
	return allCores(time.Second, func() {
		digest := sha256.Sum256(payload)
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			panic(err)
		}
	})
}

// rawArgon2Rate is how many argon2id hashes at p are computed with every
// core hashing.
func rawArgon2Rate(p identity.Argon2Params) rate {
	salt := make([]byte, p.SaltLen)
	return allCores(2*time.Second, func() {
		argon2.IDKey([]byte(loadPassword), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	})
}

// allCores runs op on every core for about d and returns its rate.
func allCores(d time.Duration, op func()) rate {
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu := processCPU()
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Since(start) < d {
				op()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	ops := float64(n.Load())
	return rate{ops / time.Since(start).Seconds(), ops / (processCPU() - cpu).Seconds()}
}

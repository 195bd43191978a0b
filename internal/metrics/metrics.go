// Package metrics is the IAM's Prometheus registry: it owns every
// collector, hears the domains through their observer interfaces and reads
// their stats when scraped. No label it writes carries a username, a
// token, an address or any other value a client chooses: every label
// value comes from a fixed set. docs/operations.md lists the metrics.
package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/signin"
)

const namespace = "gaia"

// Metrics is one server's registry and the collectors in it. Each server
// has its own, so that tests running several in one process count apart.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	logins          *prometheus.CounterVec
	grants          *prometheus.CounterVec
	rotations       prometheus.Counter
	reuses          prometheus.Counter
	bundleBuilds    prometheus.Counter
	bundleDuration  prometheus.Histogram
	auditAppends    prometheus.Counter
	auditDuration   prometheus.Histogram
	decisions       prometheus.Counter
	chain           *chainState
}

// New returns a registry holding the Go runtime's and the process's
// collectors and the IAM's event counters, every labelled series of which
// exists from the start at zero. Watch* add the collectors that read a
// domain's stats.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by route template, method and status class."}, []string{"route", "method", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
			Help: "Time to answer an HTTP request, by route template and method.", Buckets: prometheus.DefBuckets}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "logins_total",
			Help: "Password logins by every door (/auth/login, grant_type=password, the console), by outcome."}, []string{"outcome"}),
		grants: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "token_grants_total",
			Help: "Token grants asked for, by grant type and outcome."}, []string{"grant_type", "outcome"}),
		rotations: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "refresh_rotations_total",
			Help: "Refresh tokens spent for a new successor (retries within the grace excluded)."}),
		reuses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "refresh_reuse_detected_total",
			Help: "Spent refresh tokens presented again, each of which revoked its session."}),
		bundleBuilds: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "bundle_builds_total",
			Help: "Policy bundle compilations that produced a new revision."}),
		bundleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "bundle_build_duration_seconds",
			Help: "Time to read and compile the policy bundle, every compilation counted.", Buckets: prometheus.DefBuckets}),
		auditAppends: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "audit_appends_total",
			Help: "Events appended to the audit chain."}),
		auditDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "audit_append_duration_seconds",
			Help:    "Time of an audit append's statements (on PostgreSQL, the wait for the chain's lock included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		decisions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "decision_log_events_total",
			Help: "OPA decisions received at POST /logs in stored uploads (a retried upload counts again)."}),
		chain: &chainState{desc: prometheus.NewDesc(namespace+"_audit_chain_ok",
			"1 when the last periodic verification of the audit chain found it whole, 0 when broken; absent until the first one ends.", nil, nil)},
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.requestDuration, m.logins, m.grants, m.rotations, m.reuses,
		m.bundleBuilds, m.bundleDuration, m.auditAppends, m.auditDuration, m.decisions, m.chain)
	for _, o := range []signin.Outcome{signin.Succeeded, signin.InvalidCredentials, signin.Locked, signin.Overloaded, signin.Failed} {
		m.logins.WithLabelValues(string(o))
		m.grants.WithLabelValues(string(signin.GrantPassword), string(o))
	}
	for _, o := range []signin.Outcome{signin.Succeeded, signin.InvalidClient, signin.Locked, signin.Failed} {
		m.grants.WithLabelValues(string(signin.GrantClientCredentials), string(o))
	}
	for _, o := range []signin.Outcome{signin.Succeeded, signin.InvalidGrant, signin.Failed} {
		m.grants.WithLabelValues(string(signin.GrantRefreshToken), string(o))
	}
	return m
}

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ListenerHandler is the whole of a listener of the metrics' own:
// GET /metrics, and a JSON 404 for anything else.
func (m *Metrics) ListenerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not_found","message":"no such endpoint: this listener serves GET /metrics only"}` + "\n"))
	})
	return mux
}

// methods are the label values of the methods the API knows; any other
// method a client sends is "other".
var methods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions,
}

// statusClasses are the code label's values, by status/100.
var statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// ObserveRequest counts and times one request (httpapi.RequestObserver).
// route is a template of the route table, "" (unmatched) for a path no
// route matched, so a scan of random paths adds no series.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	mth, ok := methods[method]
	if !ok {
		mth = "other"
	}
	class := statusClasses[0]
	if c := status / 100; c >= 1 && c <= 5 {
		class = statusClasses[c]
	}
	m.requests.WithLabelValues(route, mth, class).Inc()
	m.requestDuration.WithLabelValues(route, mth).Observe(took.Seconds())
}

// PasswordChecked counts a password login (signin.Observer).
func (m *Metrics) PasswordChecked(o signin.Outcome) { m.logins.WithLabelValues(string(o)).Inc() }

// TokenGranted counts a grant (signin.Observer).
func (m *Metrics) TokenGranted(g signin.Grant, o signin.Outcome) {
	m.grants.WithLabelValues(string(g), string(o)).Inc()
}

// RefreshRotated counts a rotation (tokens.RotationObserver).
func (m *Metrics) RefreshRotated() { m.rotations.Inc() }

// RefreshReuseDetected counts a reuse (tokens.RotationObserver).
func (m *Metrics) RefreshReuseDetected() { m.reuses.Inc() }

// BundleCompiled times a compilation and counts it when it published a
// new revision (bundle.Observer).
func (m *Metrics) BundleCompiled(took time.Duration, published bool) {
	m.bundleDuration.Observe(took.Seconds())
	if published {
		m.bundleBuilds.Inc()
	}
}

// AuditAppended counts and times an append (audit.AppendObserver).
func (m *Metrics) AuditAppended(took time.Duration) {
	m.auditAppends.Inc()
	m.auditDuration.Observe(took.Seconds())
}

// DecisionsReceived counts the decisions of an upload
// (decisionlog.Observer).
func (m *Metrics) DecisionsReceived(n int) { m.decisions.Add(float64(n)) }

// AuditChainVerified sets gaia_audit_chain_ok from a verification of the
// whole chain (audit.KeepVerifying's report).
func (m *Metrics) AuditChainVerified(ok bool) {
	v := int32(chainBroken)
	if ok {
		v = chainWhole
	}
	m.chain.state.Store(v)
}

// The states of chainState.
const (
	chainUnknown = iota
	chainBroken
	chainWhole
)

// chainState is gaia_audit_chain_ok, exported only once a verification
// has ended: before it, 0 would claim a broken chain, 1 a verified one.
type chainState struct {
	desc  *prometheus.Desc
	state atomic.Int32
}

func (c *chainState) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *chainState) Collect(ch chan<- prometheus.Metric) {
	switch c.state.Load() {
	case chainWhole:
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1)
	case chainBroken:
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 0)
	}
}

// WatchHashing exports the password hashing gate's stats, read at each
// scrape.
func (m *Metrics) WatchHashing(stats func() identity.HashStats) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "hashing_slots_in_use",
			Help: "Password hashes being computed now."}, func() float64 { return float64(stats().InUse) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "hashing_queue_depth",
			Help: "Password checks waiting for a hashing slot now."}, func() float64 { return float64(stats().Waiting) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "hashing_shed_total",
			Help: "Password hashes refused (503 overloaded) because every slot and the queue were full or the wait ran out."},
			func() float64 { return float64(stats().Shed) }),
	)
}

// WatchBundle exports the size and age of the bundle current serves,
// read at each scrape, its age on the clock now.
func (m *Metrics) WatchBundle(current func() *bundle.Signed, now func() time.Time) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "bundle_size_bytes",
			Help: "Size of the policy bundle served now."}, func() float64 {
			if b := current(); b != nil {
				return float64(len(b.Bytes))
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: "bundle_revision_age_seconds",
			Help: "Time since this process first published the revision it serves now."}, func() float64 {
			if b := current(); b != nil && !b.BuiltAt.IsZero() {
				return now().Sub(b.BuiltAt).Seconds()
			}
			return 0
		}),
	)
}

// WatchPool exports a PostgreSQL connection pool's stats, read at each
// scrape.
func (m *Metrics) WatchPool(stat func() *pgxpool.Stat) {
	m.reg.MustRegister(&poolCollector{stat: stat})
}

var (
	poolAcquired = prometheus.NewDesc(namespace+"_db_pool_acquired_connections", "Database connections in use now.", nil, nil)
	poolIdle     = prometheus.NewDesc(namespace+"_db_pool_idle_connections", "Database connections idle in the pool now.", nil, nil)
	poolTotal    = prometheus.NewDesc(namespace+"_db_pool_total_connections", "Database connections open now, constructing ones included.", nil, nil)
	poolMax      = prometheus.NewDesc(namespace+"_db_pool_max_connections", "Most database connections the pool opens.", nil, nil)
	poolWait     = prometheus.NewDesc(namespace+"_db_pool_acquire_wait_seconds_total",
		"Time spent acquiring a database connection from the pool, in total.", nil, nil)
)

// poolCollector reads the pool's stats once per scrape.
type poolCollector struct{ stat func() *pgxpool.Stat }

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolWait} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolWait, prometheus.CounterValue, s.AcquireDuration().Seconds())
}

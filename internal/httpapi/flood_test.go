package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/testkit"
)

// argon2Bytes is the memory one password hash holds.
var argon2Bytes = uint64(identity.DefaultArgon2.MemoryKiB) << 10

// floodAttempt is one login of the flood: through /auth/login or the
// OAuth password grant, for a known user with the right or a wrong
// password, or for an unknown user.
type floodAttempt struct {
	oauth              bool
	username, password string
}

func (a floodAttempt) send(client *http.Client, base string) (*http.Response, error) {
	if a.oauth {
		return client.PostForm(base+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {a.username}, "password": {a.password}})
	}
	body, _ := json.Marshal(map[string]string{"username": a.username, "password": a.password})
	return client.Post(base+"/auth/login", "application/json", strings.NewReader(string(body)))
}

// floodOutcome is what the server answered one attempt.
type floodOutcome struct {
	attempt    floodAttempt
	status     int
	retryAfter string
	code       string
}

func TestLoginFlood_MemoryStaysWithinTheHashingBoundAndTheRestIsShed(t *testing.T) {
	const slots, logins = 2, 500
	iam := testkit.NewIAM(t)
	iam.WithUser("alice", "correct horse battery", "Viewer")
	srv := iam.Serve("--hash-concurrency", "2", "--hash-queue", "8", "--allow-password-grant=true")
	srv.Login(t, "alice", "warm up the server's pools")

	kinds := []floodAttempt{
		{false, "alice", "correct horse battery"}, {false, "alice", "wrong password"}, {false, "nobody", "wrong password"},
		{true, "alice", "correct horse battery"}, {true, "nobody", "wrong password"},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: logins}}
	outcomes := make([]floodOutcome, logins)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range outcomes {
		wg.Go(func() {
			a := kinds[i%len(kinds)]
			<-start
			resp, err := a.send(client, srv.URL)
			if err != nil {
				t.Errorf("login %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			var body struct{ Error string }
			b, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(b, &body)
			outcomes[i] = floodOutcome{a, resp.StatusCode, resp.Header.Get("Retry-After"), body.Error}
		})
	}

	runtime.GC()
	heap := sampleHeap()
	close(start)
	wg.Wait()
	mem := heap.stop()

	// Live heap: what the collector found reachable, in-flight hashes
	// among it; a hash allocated during a mark counts as live in that
	// cycle, hence the half slot of slack. The whole heap may reach twice
	// the live heap before the next collection (GOGC=100).
	fixed := uint64(16 << 20) // connections, goroutines and buffers of 500 requests
	liveBound := slots*argon2Bytes*3/2 + fixed
	t.Logf("%d concurrent logins, %d hashing slots: live heap +%.1f MiB (bound %.1f), heap +%.1f MiB (bound %.1f)",
		logins, slots, mib(mem.live), mib(liveBound), mib(mem.heap), mib(2*liveBound))
	if mem.live > liveBound {
		t.Errorf("live heap grew %.1f MiB during the flood, beyond the bound of %d slots: %.1f MiB", mib(mem.live), slots, mib(liveBound))
	}
	if mem.heap > 2*liveBound {
		t.Errorf("heap grew %.1f MiB during the flood, beyond twice the live bound: %.1f MiB", mib(mem.heap), mib(2*liveBound))
	}
	checkFloodAnswers(t, outcomes)
}

// checkFloodAnswers requires every login to be answered 200, a wrong
// password, or shed with 503 and Retry-After; some to be served; and
// known and unknown usernames to be shed alike.
func checkFloodAnswers(t *testing.T, outcomes []floodOutcome) {
	t.Helper()
	counts := map[int]int{}
	shed := map[string]int{}
	for _, o := range outcomes {
		counts[o.status]++
		wrong, overloaded := "invalid_credentials", "overloaded"
		if o.attempt.oauth {
			wrong, overloaded = "invalid_grant", "temporarily_unavailable"
		}
		switch {
		case o.status == http.StatusOK && o.attempt.password == "correct horse battery":
		case o.status == http.StatusUnauthorized && !o.attempt.oauth && o.code == wrong && o.attempt.password != "correct horse battery":
		case o.status == http.StatusBadRequest && o.attempt.oauth && o.code == wrong && o.attempt.password != "correct horse battery":
		case o.status == http.StatusServiceUnavailable && o.code == overloaded && o.retryAfter == "1":
			shed[o.attempt.username]++
		default:
			t.Errorf("%+v: answered %d %q (Retry-After %q)", o.attempt, o.status, o.code, o.retryAfter)
		}
	}
	t.Logf("answers: %v", counts)
	if counts[http.StatusOK] == 0 {
		t.Error("no login succeeded during the flood: shedding must leave the slots working")
	}
	if shed["alice"] == 0 || shed["nobody"] == 0 {
		t.Errorf("shed %v: the flood must shed logins of known and unknown usernames alike", shed)
	}
}

// heapSampler records the peak growth of the Go heap over its value at
// the start, in a goroutine, until stop.
type heapSampler struct {
	done chan struct{}
	peak chan heapGrowth
}

type heapGrowth struct {
	live uint64 // heap the last collection found reachable
	heap uint64 // every heap object, garbage not yet collected included
}

func sampleHeap() heapSampler {
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	read := func() heapGrowth {
		metrics.Read(samples)
		return heapGrowth{samples[0].Value.Uint64(), samples[1].Value.Uint64()}
	}
	base := read()
	s := heapSampler{done: make(chan struct{}), peak: make(chan heapGrowth)}
	go func() {
		var peak heapGrowth
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			now := read()
			peak.live = max(peak.live, now.live-min(now.live, base.live))
			peak.heap = max(peak.heap, now.heap-min(now.heap, base.heap))
			select {
			case <-s.done:
				s.peak <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s heapSampler) stop() heapGrowth {
	close(s.done)
	return <-s.peak
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

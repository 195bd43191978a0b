package sdk

import (
	"sync"
	"time"
)

// decisionCache keeps policy results per (token, question) for one bundle
// revision until the token expires. It is bounded: when full, an arbitrary
// entry makes room (Go map iteration order), which keeps it O(1).
type decisionCache struct {
	mu      sync.RWMutex
	max     int
	entries map[cacheKey]cacheEntry
}

type cacheKey struct{ token, question string }

type cacheEntry struct {
	revision string
	expires  time.Time
	value    any
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{max: max, entries: make(map[cacheKey]cacheEntry, max)}
}

func (c *decisionCache) get(token, question, revision string, now time.Time) (any, bool) {
	c.mu.RLock()
	e, ok := c.entries[cacheKey{token, question}]
	c.mu.RUnlock()
	if !ok || e.revision != revision || !now.Before(e.expires) {
		return nil, false
	}
	return e.value, true
}

func (c *decisionCache) put(token, question, revision string, expires time.Time, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{token, question}
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = cacheEntry{revision: revision, expires: expires, value: v}
}

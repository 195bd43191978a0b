package identity

import (
	"context"
	"sync"
)

// HoldHashSlots occupies n of s's hashing slots, as n long hashes in
// flight would, until release, which returns once they are free again.
func HoldHashSlots(s *Service, n int) (release func()) {
	held, done := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_ = s.hashing.do(context.Background(), func() {
				held <- struct{}{}
				<-done
			})
		})
	}
	for range n {
		<-held
	}
	return func() { close(done); wg.Wait() }
}

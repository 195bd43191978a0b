package bundle

import "time"

// SetPollInterval lets tests poll faster than a server does.
func SetPollInterval(p *Publisher, d time.Duration) { p.poll = d }

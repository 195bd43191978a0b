package clientip

import "testing"

func TestClientIP_RightMostUntrustedHop(t *testing.T) {
	proxies, err := ParseProxies("10.0.0.0/8, 192.0.2.1, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy, no header", "203.0.113.5:4711", nil, "203.0.113.5"},
		{"untrusted peer: header ignored", "203.0.113.5:4711", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted peer, no header", "10.0.0.2:80", nil, "10.0.0.2"},
		{"trusted peer names the client", "10.0.0.2:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed left hops are not believed", "10.0.0.2:80", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped", "10.0.0.2:80", []string{"1.1.1.1, 198.51.100.1, 10.9.9.9, 192.0.2.1"}, "198.51.100.1"},
		{"every header line is read", "10.0.0.2:80", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},
		{"all hops trusted: the left-most", "10.0.0.2:80", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"garbage stops the walk", "10.0.0.2:80", []string{"198.51.100.1, not-an-ip, 10.3.3.3"}, "10.3.3.3"},
		{"IPv6 peer", "[2001:db8::1]:443", []string{"2001:db9::7"}, "2001:db9::7"},
		{"IPv4-mapped IPv6 is IPv4", "[::ffff:10.0.0.2]:80", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
	} {
		if got := proxies.ClientIP(tc.peer, tc.xff); got != tc.want {
			t.Errorf("%s: ClientIP(%q, %q) = %q, want %q", tc.name, tc.peer, tc.xff, got, tc.want)
		}
	}
	if got := Proxies(nil).ClientIP("10.0.0.2:80", []string{"198.51.100.1"}); got != "10.0.0.2" {
		t.Errorf("no trusted proxies: %q, want the peer", got)
	}
}

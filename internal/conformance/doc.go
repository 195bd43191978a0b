// Package conformance makes and checks testdata/conformance, the
// language-neutral decision vectors that every Gaia IAM client must meet,
// from the real Rego, a real signed bundle and real RS256 tokens. It holds
// tests only: never import it, and never write an expected answer by hand.
package conformance

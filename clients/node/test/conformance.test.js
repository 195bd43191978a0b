import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importJWK } from 'jose';
import { STOCK_POLICY_DIGEST, StockPolicy, readBundle, policyDigest } from '../src/index.js';
import { BundleRefused } from '../src/bundle.js';
import { read, vectors } from './helpers.js';

async function iamKeys() {
  const keys = new Map();
  for (const k of JSON.parse(read('jwks.json')).keys) keys.set(k.kid, await importJWK(k, 'RS256'));
  return keys;
}

test('the stock digest is the vectors\' and the bundle\'s', async () => {
  assert.equal(STOCK_POLICY_DIGEST, vectors.policy_digest);
  const b = await readBundle(read('bundle.tar.gz'), await iamKeys(), { stockDigest: STOCK_POLICY_DIGEST });
  assert.equal(b.policyDigest, STOCK_POLICY_DIGEST);
  assert.equal(b.revision, vectors.revision);
  assert.equal(policyDigest([['/policies/authz.rego', read('../../policies/authz.rego')]]), STOCK_POLICY_DIGEST);
});

test('every conformance case decides as OPA', async () => {
  const b = await readBundle(read('bundle.tar.gz'), await iamKeys(), { stockDigest: STOCK_POLICY_DIGEST });
  const policy = await StockPolicy.create(b.data);
  assert.ok(vectors.cases.length >= 100);
  for (const c of vectors.cases) {
    const ev = await policy.evaluate(vectors.tokens[c.token], c.permission, vectors.time * 1e9);
    assert.deepEqual({ allow: ev.allow, reasons: ev.reasons }, { allow: c.allow, reasons: c.reasons }, `${c.token} ${JSON.stringify(c.permission)}`);
  }
});

test('every conformance principal is OPA\'s', async () => {
  const { toPlain } = await import('../src/gojson.js');
  const b = await readBundle(read('bundle.tar.gz'), await iamKeys(), { stockDigest: STOCK_POLICY_DIGEST });
  const policy = await StockPolicy.create(b.data);
  for (const [name, want] of Object.entries(vectors.principals)) {
    const ev = await policy.evaluate(vectors.tokens[name], null, vectors.time * 1e9);
    assert.deepEqual(ev.principal === null ? null : toPlain(ev.principal), want, name);
  }
});

test('every refused bundle is refused; the custom policy is read but not stock', async () => {
  const keys = await iamKeys();
  assert.ok(vectors.refused_bundles.length >= 9);
  for (const { file, why } of vectors.refused_bundles) {
    await assert.rejects(readBundle(read(file), keys, { stockDigest: STOCK_POLICY_DIGEST }), BundleRefused, `${file}: ${why}`);
  }
  const custom = await readBundle(read(vectors.custom_policy_bundle), keys, { stockDigest: STOCK_POLICY_DIGEST });
  assert.notEqual(custom.policyDigest, STOCK_POLICY_DIGEST);
});

test('a bundle is refused with no key, or an empty JWKS', async () => {
  await assert.rejects(readBundle(read('bundle.tar.gz'), new Map()), BundleRefused);
  await assert.rejects(readBundle(Buffer.from('not a gzip'), await iamKeys()), BundleRefused);
});

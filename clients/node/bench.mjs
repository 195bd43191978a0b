// Decision latency: cached, first-seen token, and (GAIA_IAM_TEST_OPA=path to
// a stock opa) the same question to OPA over HTTP with keep-alive.
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, createSign } from 'node:crypto';
import { createAuthorizer } from './src/index.js';

const C = new URL('../../testdata/conformance/', import.meta.url).pathname;
const vectors = JSON.parse(readFileSync(C + 'vectors.json'));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const p50 = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ns) => (ns < 1000 ? `${ns.toFixed(0)} ns` : ns < 1e6 ? `${(ns / 1000).toFixed(2)} µs` : `${(ns / 1e6).toFixed(2)} ms`);

const bundle = readFileSync(C + 'bundle.tar.gz');
const jwks = readFileSync(C + 'jwks.json');
const iam = createServer((req, res) => res.end(req.url.startsWith('/.well-known') ? jwks : req.url.startsWith('/bundles') ? bundle : '')).listen(0, '127.0.0.1');
await new Promise((r) => iam.once('listening', r));
const iamUrl = `http://127.0.0.1:${iam.address().port}`;

// Fresh tokens (first-seen) signed by the conformance IAM key.
const key = createPrivateKey(readFileSync(C + 'keys/iam.pem'));
const kid = JSON.parse(jwks).keys[0].kid;
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function mint(i) {
  const h = b64({ alg: 'RS256', typ: 'JWT', kid });
  const p = b64({ iss: 'gaia-iam', sub: `bench-${i}`, username: `bench${i}`, type: 'user', roles: ['Viewer'], jti: `bench-jti-${i}`, iat: 1767225600, exp: 4102444800 });
  const s = createSign('RSA-SHA256').update(`${h}.${p}`).sign(key).toString('base64url');
  return `${h}.${p}.${s}`;
}

async function measure(authz, label, n, tokens) {
  const cached = [];
  const tok = vectors.tokens.viewer;
  await authz.authorize(tok, 'inventory.read');
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await authz.authorize(tok, 'inventory.read');
    cached.push(Number(process.hrtime.bigint() - t0));
  }
  const first = [];
  for (const t of tokens) {
    const t0 = process.hrtime.bigint();
    const d = await authz.authorize(t, 'inventory.read');
    first.push(Number(process.hrtime.bigint() - t0));
    if (!d.allow) throw new Error(`${label}: a minted token was denied: ${d.reasons}`);
  }
  console.log(`${label.padEnd(10)} cached p50 ${fmt(p50(cached)).padStart(10)}   first-seen p50 ${fmt(p50(first)).padStart(10)}`);
}

const tokens = Array.from({ length: 2000 }, (_, i) => mint(i));
const authz = createAuthorizer({ iamUrl, logger: quiet });
await authz.whenReady(5000);
await measure(authz, 'embedded', 200_000, tokens);
await authz.close();

if (process.env.GAIA_IAM_TEST_OPA) {
  const dir = mkdtempSync(join(tmpdir(), 'gaia-bench-opa-'));
  const pem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString().replace(/\n/g, '\\n');
  const port = 18000 + Math.floor(Math.random() * 1000);
  const opa = spawn(process.env.GAIA_IAM_TEST_OPA, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--config-file', new URL('../../bundles/opa-config.yaml', import.meta.url).pathname], {
    env: { ...process.env, GAIA_IAM_URL: iamUrl, GAIA_IAM_PUBLIC_KEY: pem },
    stdio: 'ignore',
    cwd: dir,
  });
  try {
    const side = createAuthorizer({ iamUrl, opaUrl: `http://127.0.0.1:${port}`, pollInterval: 200, logger: quiet });
    if (!(await side.whenReady(20_000))) throw new Error('OPA did not become ready');
    await measure(side, 'opa-http', 2000, tokens.map((_, i) => mint(i + 100_000)).slice(0, 500));
    // uncached: OPA itself, per request
    const raw = [];
    for (let i = 0; i < 1000; i++) {
      const t0 = process.hrtime.bigint();
      const r = await fetch(`http://127.0.0.1:${port}/v1/data/gaia/authz/decision`, { method: 'POST', body: JSON.stringify({ input: { token: vectors.tokens.viewer, permission: 'inventory.read' } }) });
      await r.text();
      raw.push(Number(process.hrtime.bigint() - t0));
    }
    console.log(`opa-http   uncached request p50 ${fmt(p50(raw))} (OPA's own io.jwt cache warm)`);
    await side.close();
  } finally {
    opa.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
iam.close();

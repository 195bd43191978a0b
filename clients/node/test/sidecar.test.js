// Sidecar mode against a real stock OPA of the pinned version, configured
// by bundles/opa-config.yaml and loading the conformance bundle from a fake
// IAM: every conformance case is answered as the vectors say. Needs
// GAIA_IAM_TEST_OPA (make test sets it); under CI=true its absence fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createAuthorizer } from '../src/index.js';
import { fakeIam, quiet, read, until, vectors } from './helpers.js';

const opa = process.env.GAIA_IAM_TEST_OPA;
if (!opa && process.env.CI === 'true') throw new Error('CI=true and no opa binary: set GAIA_IAM_TEST_OPA (make test does)');
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

test('sidecar mode answers every conformance case as the vectors say', { skip: !opa && 'set GAIA_IAM_TEST_OPA to an opa binary' }, async (t) => {
  const iam = await fakeIam();
  t.after(() => iam.close());
  const key = createPublicKey(read('keys/iam.pem')).export({ type: 'spki', format: 'pem' }).replace(/\n/g, '\\n');
  const port = await freePort();
  const proc = spawn(opa, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error',
    '--config-file', REPO + 'bundles/opa-config.yaml',
    '--set', 'bundles.gaia.polling.min_delay_seconds=1', '--set', 'bundles.gaia.polling.max_delay_seconds=1'],
  { env: { ...process.env, GAIA_IAM_URL: iam.url, GAIA_IAM_PUBLIC_KEY: key }, stdio: 'ignore' });
  t.after(() => proc.kill());
  const authz = createAuthorizer({ iamUrl: iam.url, opaUrl: `http://127.0.0.1:${port}`, pollInterval: 1000, logger: quiet });
  t.after(() => authz.close());
  await until(() => authz.isReady(), 20000);
  for (const c of vectors.cases) {
    const d = await authz.authorize(vectors.tokens[c.token], c.permission);
    assert.deepEqual({ allow: d.allow, reasons: [...d.reasons] }, { allow: c.allow, reasons: c.reasons }, `${c.token} / ${JSON.stringify(c.permission)}`);
  }
  assert.equal(await authz.hasPermission(vectors.tokens[vectors.cases.find((c) => c.allow).token], vectors.cases.find((c) => c.allow).permission), true);
});

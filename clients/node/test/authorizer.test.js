import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createAuthorizer, InvalidTokenError, NotReadyError } from '../src/index.js';
import { fakeIam, now, quiet, read, recorder, until, vectors } from './helpers.js';

const T = vectors.tokens;

test('authorizer over HTTP: every vector, every principal, no request per decision, ETag/304', async (t) => {
  const iam = await fakeIam();
  const authz = createAuthorizer({ iamUrl: iam.url, pollInterval: 60_000, now, logger: quiet });
  t.after(async () => {
    await authz.close();
    await iam.close();
  });
  assert.equal(authz.isReady(), false);
  assert.deepEqual({ ...(await authz.authorize(T.admin, 'inventory.read')) }, { allow: false, reasons: ['not_ready'], revision: '' });
  await assert.rejects(authz.principal(T.admin), NotReadyError);
  assert.ok(await authz.whenReady(5000));
  for (const pass of [1, 2]) {
    const before = iam.hits.bundle + iam.hits.jwks;
    for (const c of vectors.cases) {
      const d = await authz.authorize(T[c.token], c.permission);
      assert.deepEqual({ allow: d.allow, reasons: [...d.reasons] }, { allow: c.allow, reasons: c.reasons }, `pass ${pass}: ${c.token} ${c.permission}`);
      assert.equal(d.revision, vectors.revision);
      assert.equal(await authz.hasPermission(T[c.token], c.permission), c.allow);
    }
    // decisions never ask the IAM
    assert.equal(iam.hits.bundle + iam.hits.jwks - before, 0, 'no request per decision');
    assert.equal(authz.requestCount, 2);
  }
  for (const [name, want] of Object.entries(vectors.principals)) {
    if (want === null) {
      await assert.rejects(authz.principal(T[name]), (e) => e instanceof InvalidTokenError && e.reason.startsWith('token_'), name);
    } else {
      const p = await authz.principal(T[name]);
      assert.deepEqual(p.claims, want, name);
      assert.equal(p.id, want.sub);
      assert.equal(p.type, want.type);
      assert.deepEqual(p.roles, want.roles);
    }
  }
  const e = await authz.principal(T.expired).catch((x) => x);
  assert.equal(e.reason, 'token_expired');
  assert.equal((await authz.principal(T.revoked_jti).catch((x) => x)).reason, 'token_revoked');
  assert.equal(await authz.hasPermission(42, 'inventory.read'), false);
});

test('polling sends If-None-Match and keeps the bundle on 304', async (t) => {
  const iam = await fakeIam();
  const authz = createAuthorizer({ iamUrl: iam.url, pollInterval: 30, now, logger: quiet });
  t.after(async () => {
    await authz.close();
    await iam.close();
  });
  assert.ok(await authz.whenReady(5000));
  await until(() => iam.hits.notModified >= 2);
  assert.equal(iam.hits.bundle - iam.hits.notModified, 1, 'the bundle body was sent once');
  assert.ok(authz.isReady());
});

test('refused bundles are refused, logged once, the last good kept', async (t) => {
  const iam = await fakeIam();
  const rec = recorder();
  const authz = createAuthorizer({ iamUrl: iam.url, pollInterval: 20, now, logger: rec.logger });
  t.after(async () => {
    await authz.close();
    await iam.close();
  });
  assert.ok(await authz.whenReady(5000));
  for (const { file } of vectors.refused_bundles) {
    iam.bundle = read(file);
    const seen = iam.hits.bundle;
    await until(() => iam.hits.bundle >= seen + 3);
    assert.ok(authz.isReady(), file);
    assert.equal(authz.revision, vectors.revision);
    assert.equal(await authz.hasPermission(T.admin, 'inventory.write'), true, file);
    assert.equal(await authz.hasPermission(T.viewer, 'inventory.write'), false, file); // data-tampered grants it
    assert.equal(rec.lines.filter((l) => l.startsWith('warn gaia-iam: bundle refused')).length, vectors.refused_bundles.indexOf(vectors.refused_bundles.find((r) => r.file === file)) + 1, file);
  }
});

test('a custom-policy bundle: not ready, policy_unsupported, one log line naming opaUrl', async (t) => {
  const iam = await fakeIam();
  iam.bundle = read(vectors.custom_policy_bundle);
  const rec = recorder();
  const authz = createAuthorizer({ iamUrl: iam.url, pollInterval: 20, now, logger: rec.logger });
  t.after(async () => {
    await authz.close();
    await iam.close();
  });
  await until(() => iam.hits.bundle >= 3);
  assert.equal(authz.isReady(), false);
  const d = await authz.authorize(T.admin, 'inventory.read');
  assert.equal(d.allow, false);
  assert.deepEqual([...d.reasons], ['policy_unsupported']);
  await assert.rejects(authz.principal(T.admin), (e) => e instanceof NotReadyError && e.reason === 'policy_unsupported');
  const lines = rec.lines.filter((l) => l.includes('opaUrl'));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^error /);
  // the stock bundle back: ready again
  iam.bundle = read('bundle.tar.gz');
  await until(() => authz.isReady());
  assert.equal(await authz.hasPermission(T.admin, 'inventory.read'), true);
});

test('cacheDir: the last good bundle and its JWKS survive a restart with the IAM down', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gaia-iam-node-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const iam = await fakeIam();
  const first = createAuthorizer({ iamUrl: iam.url, pollInterval: 1000, cacheDir: dir, now, logger: quiet });
  assert.ok(await first.whenReady(5000));
  await until(async () => (await readdir(dir)).sort().join() === 'bundle.tar.gz,jwks.json');
  await first.close();
  await iam.close();
  const rec = recorder();
  const second = createAuthorizer({ iamUrl: iam.url, pollInterval: 1000, cacheDir: dir, now, logger: rec.logger });
  t.after(() => second.close());
  assert.ok(await second.whenReady(5000));
  assert.equal(second.revision, vectors.revision);
  assert.equal(await second.hasPermission(T.admin, 'inventory.write'), true);
  assert.equal(await second.hasPermission(T.viewer, 'inventory.write'), false);
  await until(() => rec.lines.some((l) => l.includes('cannot fetch')));
  assert.ok(second.isReady());
});

test('the IAM down from the start: not ready, 503-style denial, no crash', async (t) => {
  const authz = createAuthorizer({ iamUrl: 'http://127.0.0.1:9', pollInterval: 20, now, logger: quiet });
  t.after(() => authz.close());
  assert.equal(await authz.whenReady(200), false);
  assert.deepEqual([...(await authz.authorize(T.admin, 'inventory.read')).reasons], ['not_ready']);
});

test('decisions are cached per (token, permission, revision) and bounded', async (t) => {
  const iam = await fakeIam();
  let clock = vectors.time;
  const authz = createAuthorizer({ iamUrl: iam.url, pollInterval: 10_000, now: () => clock, cacheSize: 3, logger: quiet });
  t.after(async () => {
    await authz.close();
    await iam.close();
  });
  assert.ok(await authz.whenReady(5000));
  const a = await authz.authorize(T.admin, 'inventory.read');
  assert.equal(await authz.authorize(T.admin, 'inventory.read'), a, 'same object from the cache');
  for (const name of ['viewer', 'analyst', 'service']) await authz.authorize(T[name], 'inventory.read');
  assert.notEqual(await authz.authorize(T.admin, 'inventory.read'), a, 'evicted by the LRU bound');
  // the cache holds only until exp: past it, the token is expired
  const b = await authz.authorize(T.admin, 'inventory.read');
  clock = 4102444800 + 10;
  const c = await authz.authorize(T.admin, 'inventory.read');
  assert.notEqual(b, c);
  assert.deepEqual([...c.reasons], ['token_expired']);
});

test('a process with a closed authorizer exits by itself', async () => {
  const iam = await fakeIam();
  try {
    const src = fileURLToPath(new URL('../src/index.js', import.meta.url));
    const code = `
      import { createAuthorizer } from ${JSON.stringify(src)};
      const a = createAuthorizer({ iamUrl: ${JSON.stringify(iam.url)}, pollInterval: 100, logger: { debug() {}, info() {}, warn() {}, error() {} } });
      const ok = await a.whenReady(5000);
      await a.close();
      console.log(ok ? 'ready-closed' : 'not-ready');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const started = Date.now();
    const status = await new Promise((resolve, reject) => {
      const kill = setTimeout(() => {
        child.kill();
        reject(new Error('child did not exit'));
      }, 8000);
      child.on('exit', (c) => {
        clearTimeout(kill);
        resolve(c);
      });
    });
    assert.equal(status, 0);
    assert.equal(out.trim(), 'ready-closed');
    assert.ok(Date.now() - started < 5000);
  } finally {
    await iam.close();
  }
});

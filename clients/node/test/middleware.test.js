import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { createAuthorizer } from '../src/index.js';
import { fakeIam, now, quiet, request, vectors } from './helpers.js';

const T = vectors.tokens;

async function serve(authz) {
  const app = express();
  app.get('/items', authz.requirePermission('inventory.read'), (req, res) => res.json({ who: req.principal.username, id: req.principal.id }));
  const server = await new Promise((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const json = (r) => JSON.parse(r.body);

test('Express middleware answers as the Go SDK: 200, 401, 403', async (t) => {
  const iam = await fakeIam();
  const authz = createAuthorizer({ iamUrl: iam.url, now, logger: quiet });
  const app = await serve(authz);
  t.after(async () => {
    await app.close();
    await authz.close();
    await iam.close();
  });
  assert.ok(await authz.whenReady(5000));
  const get = (auth) => request(`${app.url}/items`, { headers: auth === undefined ? {} : { authorization: auth } });

  let r = await get(`Bearer ${T.viewer}`);
  assert.equal(r.status, 200);
  assert.equal(json(r).id, vectors.principals.viewer.sub);

  r = await get(`bearer   ${T.viewer}  `);
  assert.equal(r.status, 200, 'scheme case-insensitive, token trimmed');

  r = await get(undefined);
  assert.equal(r.status, 401);
  assert.equal(r.body, '{"error":"invalid_token","message":"a bearer token is required"}\n');
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="gaia"');
  assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
  for (const bad of ['Basic abc', 'Bearer', 'Bearer    ', T.viewer]) assert.equal((await get(bad)).status, 401, bad);

  r = await get(`Bearer ${T.tampered_payload}`);
  assert.equal(r.status, 401);
  assert.deepEqual(json(r), { error: 'invalid_token', message: 'token is invalid' });
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="gaia", error="invalid_token"');

  r = await get(`Bearer ${T.expired}`);
  assert.deepEqual([r.status, json(r)], [401, { error: 'invalid_token', message: 'token is expired' }]);
  r = await get(`Bearer ${T.revoked_jti}`);
  assert.deepEqual([r.status, json(r)], [401, { error: 'invalid_token', message: 'token is revoked' }]);

  r = await get(`Bearer ${T.no_roles}`);
  assert.equal(r.status, 403);
  assert.equal(r.body, '{"error":"forbidden","message":"missing permission inventory.read"}\n');
});

test('Express middleware: 503 unavailable before the first bundle', async (t) => {
  const authz = createAuthorizer({ iamUrl: 'http://127.0.0.1:9', now, logger: quiet });
  const app = await serve(authz);
  t.after(async () => {
    await app.close();
    await authz.close();
  });
  const r = await request(`${app.url}/items`, { headers: { authorization: `Bearer ${T.admin}` } });
  assert.equal(r.status, 503);
  assert.equal(r.body, '{"error":"unavailable","message":"authorization policy not loaded yet"}\n');
  assert.equal(r.headers.get('retry-after'), '1');
});

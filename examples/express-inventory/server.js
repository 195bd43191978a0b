// A small service guarded by Gaia IAM through @gaia-platform/iam alone:
// GET /items needs inventory.read, POST /items needs inventory.write. It
// never calls the IAM per request. Same routes and answers as
// cmd/example-inventory (the Go SDK's example).
//
// Environment: IAM_URL (default http://127.0.0.1:8080), EXAMPLE_HTTP_ADDR
// (default 127.0.0.1:8081), GAIA_IAM_POLL_INTERVAL (seconds, default 10),
// GAIA_IAM_CACHE_DIR (optional: keep the last bundle on disk).
import express from 'express';
import { createAuthorizer } from '@gaia-platform/iam';

const iamUrl = process.env.IAM_URL || 'http://127.0.0.1:8080';
const addr = process.env.EXAMPLE_HTTP_ADDR || '127.0.0.1:8081';
const pollSeconds = Number(process.env.GAIA_IAM_POLL_INTERVAL || '10');
if (!(pollSeconds > 0)) {
  console.error('express-inventory: GAIA_IAM_POLL_INTERVAL must be a positive number of seconds');
  process.exit(1);
}
const sep = addr.lastIndexOf(':');
const host = addr.slice(0, sep).replace(/^\[|\]$/g, '') || '0.0.0.0';
const port = Number(addr.slice(sep + 1));
if (sep < 0 || !Number.isInteger(port)) {
  console.error('express-inventory: EXAMPLE_HTTP_ADDR must be host:port');
  process.exit(1);
}

const authz = createAuthorizer({ iamUrl, pollInterval: pollSeconds * 1000, cacheDir: process.env.GAIA_IAM_CACHE_DIR || undefined });
const items = [];

const app = express();
app.disable('x-powered-by');
app.get('/healthz', (req, res) => {
  if (!authz.isReady()) return res.status(503).json({ error: 'not_ready', message: 'no policy bundle loaded yet' });
  res.json({ status: 'ok' });
});
app.get('/items', authz.requirePermission('inventory.read'), (req, res) => {
  res.json({ items });
});
app.post('/items', authz.requirePermission('inventory.write'), express.json({ strict: false }), (req, res) => {
  const b = req.body;
  const ok = b && typeof b === 'object' && !Array.isArray(b) && typeof b.name === 'string' && b.name !== '' &&
    (b.quantity === undefined || b.quantity === null || Number.isInteger(b.quantity));
  if (!ok) return res.status(400).json({ error: 'invalid_request', message: 'body must be {"name": "...", "quantity": n}' });
  const item = { name: b.name, quantity: b.quantity ?? 0, added_by: req.principal.username };
  items.push(item);
  res.status(201).json(item);
});
// A malformed JSON body: the same 400 as the Go example.
app.use((err, req, res, next) => {
  if (err?.type === 'entity.parse.failed') return res.status(400).json({ error: 'invalid_request', message: 'body must be {"name": "...", "quantity": n}' });
  next(err);
});

const server = app.listen(port, host, () => {
  const a = server.address();
  console.error(JSON.stringify({ msg: 'express-inventory listening', addr: `${a.address}:${a.port}`, iam: iamUrl }));
});
server.on('error', (e) => {
  console.error(`express-inventory: EXAMPLE_HTTP_ADDR: ${e.message}`);
  process.exit(1);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    server.close();
    server.closeIdleConnections?.();
    authz.close();
    setTimeout(() => process.exit(0), 5000).unref();
  });
}

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const CONFORMANCE = fileURLToPath(new URL('../../../testdata/conformance/', import.meta.url));
export const read = (name) => readFileSync(CONFORMANCE + name);
export const vectors = JSON.parse(read('vectors.json'));
export const now = () => vectors.time;
export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A logger that records its lines. */
export function recorder() {
  const lines = [];
  const log = (level) => (m) => lines.push(`${level} ${m}`);
  return { lines, logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } };
}

/** A fake IAM over node:http serving the conformance JWKS and a settable bundle, with ETags. */
export async function fakeIam() {
  const state = { bundle: read('bundle.tar.gz'), jwks: read('jwks.json'), hits: { jwks: 0, bundle: 0, notModified: 0 } };
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      state.hits.jwks++;
      res.setHeader('content-type', 'application/json');
      return res.end(state.jwks);
    }
    if (req.url === '/bundles/gaia.tar.gz') {
      state.hits.bundle++;
      const etag = `"${createHash('sha256').update(state.bundle).digest('hex').slice(0, 16)}"`;
      res.setHeader('etag', etag);
      if (req.headers['if-none-match'] === etag) {
        state.hits.notModified++;
        res.statusCode = 304;
        return res.end();
      }
      res.setHeader('content-type', 'application/gzip');
      return res.end(state.bundle);
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${server.address().port}`;
  state.server = server;
  state.close = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  return state;
}

export const until = async (cond, ms = 5000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A plain HTTP request: { status, headers, body }. */
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return fetch(url, { method, headers, body }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.text() }));
}

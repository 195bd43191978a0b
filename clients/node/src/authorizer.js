// The Authorizer: local permission checks from the IAM's signed bundle (or,
// with opaUrl, from a stock OPA beside the service). A port of
// clients/python/gaia_iam/authorizer.py, sidecar.py, cache.py, _answers.py.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { importJWK } from 'jose';
import { BundleRefused, UnknownSigningKey, readBundle } from './bundle.js';
import { STOCK_POLICY_DIGEST, StockPolicy, tokenInstants } from './decide.js';
import { GoJSONError, isObject, parse, toPlain } from './gojson.js';

export const TOKEN_INVALID = 'token_invalid';
export const TOKEN_EXPIRED = 'token_expired';
export const TOKEN_REVOKED = 'token_revoked';
export const PERMISSION_MISSING = 'permission_missing';
export const NOT_READY = 'not_ready';
export const POLICY_UNSUPPORTED = 'policy_unsupported';
export const ERROR = 'error';

const JWKS_PATH = '/.well-known/jwks.json';
const BUNDLE_PATH = '/bundles/gaia.tar.gz';
const MAX_JWKS_BYTES = 1 << 20;
const MAX_BUNDLE_BYTES = 64 << 20;
const JWKS_FILE = 'jwks.json';
const BUNDLE_FILE = 'bundle.tar.gz';
// Longer tokens are decided but not cached, so the cache's memory stays bounded.
const MAX_CACHED_TOKEN = 16 << 10;
// Keep clear of each exp/nbf instant by this much (OPA compares float64 ns).
const MARGIN_SECONDS = 1e-3;
const DEFAULT_CACHE_SIZE = 10_000;

/** The token is not a valid, unrevoked IAM token: .reason is token_invalid, token_expired or token_revoked. */
export class InvalidTokenError extends Error {
  constructor(reason = TOKEN_INVALID) {
    super(`token is ${reason.startsWith('token_') ? reason.slice(6) : 'not valid'}`);
    this.name = 'InvalidTokenError';
    this.reason = reason;
  }
}

/** No decision can be made: .reason is not_ready, policy_unsupported or error. */
export class NotReadyError extends Error {
  constructor(reason = NOT_READY, message = 'authorization policy not loaded yet') {
    super(message);
    this.name = 'NotReadyError';
    this.reason = reason;
  }
}

const decision = (allow, reasons, revision) => Object.freeze({ allow, reasons: Object.freeze([...reasons]), revision });

function principalOf(claims) {
  const text = (n) => (typeof claims[n] === 'string' ? claims[n] : '');
  const items = (n) => (Array.isArray(claims[n]) ? [...claims[n]] : []);
  return Object.freeze({ id: text('sub'), username: text('username'), type: text('type'), roles: items('roles'), permissions: items('permissions'), claims });
}

// --- the decision cache: a bounded Map-based LRU of values valid over [lo, hi) ---

function validity(instants, now) {
  let lo = -Infinity;
  let hi = Infinity;
  for (const t of instants) {
    if (!Number.isFinite(t)) return null;
    if (t <= now) lo = Math.max(lo, t);
    else hi = Math.min(hi, t);
  }
  lo += MARGIN_SECONDS;
  hi -= MARGIN_SECONDS;
  return lo <= now && now < hi ? [lo, hi] : null;
}

class DecisionCache {
  constructor(max) {
    this.max = Math.max(1, max);
    this.map = new Map();
  }
  get(key, now) {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    this.map.delete(key);
    if (e.lo <= now && now < e.hi) {
      this.map.set(key, e); // most recently used last
      return e.value;
    }
    return undefined;
  }
  put(key, span, value) {
    this.map.delete(key);
    this.map.set(key, { lo: span[0], hi: span[1], value });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value);
  }
  get size() {
    return this.map.size;
  }
}

const cacheKey = (token, permission) =>
  typeof token === 'string' && token.length <= MAX_CACHED_TOKEN && (permission === null || typeof permission === 'string')
    ? (permission === null ? '\u0001' : permission + '\u0000') + token
    : null;

// --- logging once per outage ---

function defaultLogger() {
  return {
    debug() {},
    info: (m) => console.error(m),
    warn: (m) => console.error(m),
    error: (m) => console.error(m),
  };
}

function checkUrl(url, what) {
  let u;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`${what} must be an http(s) URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`${what} must be an http(s) URL`);
  return url.replace(/\/+$/, '');
}

class Engine {
  constructor(opts) {
    this.pollInterval = opts.pollInterval ?? 10_000;
    if (!(this.pollInterval > 0)) throw new RangeError('pollInterval must be positive (milliseconds)');
    this.timeout = opts.timeout ?? 5_000;
    this.clock = opts.now ?? (() => Date.now() / 1000);
    this.log = opts.logger ?? defaultLogger();
    this.cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.failing = new Set();
    this.closed = false;
    this.timer = null;
    this.inflight = new Set();
    this.polls = 0;
    this.waiters = new Set();
  }

  start(first = Promise.resolve()) {
    this.started = first.then(() => this.loop());
  }

  async loop() {
    if (this.closed) return;
    try {
      await this.poll();
    } catch (e) {
      if (!this.closed) this.log.error(`gaia-iam: background poll failed: ${e?.stack ?? e}`);
    }
    this.polls++;
    this.notify();
    if (this.closed) return;
    this.timer = setTimeout(() => this.loop(), this.pollInterval);
    this.timer.unref(); // a poll never keeps the process alive by itself
  }

  notify() {
    for (const w of this.waiters) w();
  }

  async request(url, init = {}, limit) {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(new Error(`timed out after ${this.timeout} ms`)), this.timeout);
    t.unref();
    this.inflight.add(ac);
    try {
      const resp = await fetch(url, { ...init, signal: ac.signal });
      const body = Buffer.from(await resp.arrayBuffer());
      if (limit !== undefined && body.length > limit) throw new Error(`answer exceeds ${limit} bytes`);
      return { status: resp.status, headers: resp.headers, body };
    } finally {
      clearTimeout(t);
      this.inflight.delete(ac);
    }
  }

  failed(what, message) {
    if (this.failing.has(what)) this.log.debug(message);
    else {
      this.failing.add(what);
      this.log.warn(message);
    }
  }

  recovered(what, message) {
    if (this.failing.delete(what)) this.log.info(message);
  }

  async close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = null;
    for (const ac of this.inflight) ac.abort(new Error('closed'));
    try {
      await this.started;
    } catch {
      /* already logged */
    }
    this.notify();
  }

  /** Resolve once ready (true), or after timeoutMs / close (false). */
  whenReady(timeoutMs = 10_000) {
    if (this.isReady()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        if (this.isReady() || this.closed) finish(this.isReady());
      };
      const finish = (v) => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve(v);
      };
      const t = setTimeout(() => finish(this.isReady()), timeoutMs);
      this.waiters.add(done);
    });
  }

  async check(token, permission) {
    const d = await this.authorize(token, permission);
    if (!d.allow) return [d, null];
    try {
      return [d, await this.principal(token)];
    } catch (e) {
      if (e instanceof InvalidTokenError) return [d, null];
      throw e;
    }
  }
}

// --- embedded mode ---

const NOT_LOADED = decision(false, [NOT_READY], '');
const NO_BUNDLE = { policy: null, revision: '', cache: null, denial: NOT_LOADED, sha256: '', digest: '' };

function denialMessage(reason) {
  if (reason === NOT_READY) return 'authorization policy not loaded yet';
  if (reason === POLICY_UNSUPPORTED) return "the IAM's policy is not the stock policy this client implements (use sidecar mode)";
  return 'authorization is unavailable';
}

/** The IAM's RSA public keys by kid, as the Go SDK reads its JWKS. */
async function parseIamJwks(raw) {
  let doc;
  try {
    doc = parse(raw);
  } catch (e) {
    if (e instanceof GoJSONError) throw new Error(`JWKS is not JSON: ${e.message}`);
    throw e;
  }
  if (!isObject(doc)) throw new Error('JWKS must be a JSON object');
  const entries = 'keys' in doc ? doc.keys : [doc];
  if (!Array.isArray(entries)) throw new Error('JWKS "keys" must be an array');
  const out = new Map();
  const ids = [];
  for (const e of entries) {
    if (!isObject(e) || e.kty !== 'RSA') continue;
    if (typeof e.kid !== 'string' || !e.kid || 'd' in e) continue;
    if (typeof e.n !== 'string' || typeof e.e !== 'string') throw new Error(`JWKS key ${e.kid} is not a valid RSA key`);
    try {
      out.set(e.kid, await importJWK({ kty: 'RSA', n: e.n, e: e.e }, 'RS256'));
    } catch {
      throw new Error(`JWKS key ${e.kid} is not a valid RSA key`);
    }
    ids.push(`${e.kid}:${e.n}:${e.e}`);
  }
  if (!out.size) throw new Error('JWKS holds no RSA key with a kid');
  return { keys: out, id: ids.sort().join(',') };
}

async function writeAtomic(path, data) {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

class EmbeddedEngine extends Engine {
  constructor(iamUrl, opts) {
    super(opts);
    this.mode = 'embedded';
    this.jwksUrl = iamUrl + JWKS_PATH;
    this.bundleUrl = iamUrl + BUNDLE_PATH;
    this.issuer = opts.issuer === undefined ? 'gaia-iam' : opts.issuer;
    this.cacheDir = opts.cacheDir || null;
    this.keys = new Map();
    this.keysId = '';
    this.keysRaw = null;
    this.etag = null;
    this.state = NO_BUNDLE;
    this.refused = new Set();
    this.unsupported = new Set();
    this.requests = 0;
    this.start(this.cacheDir ? this.loadCached() : undefined);
  }

  isReady() {
    return this.state.policy !== null;
  }

  get revision() {
    return this.state.revision;
  }

  async authorize(token, permission) {
    const state = this.state;
    if (state.policy === null) return state.denial;
    const now = this.clock();
    const key = cacheKey(token, permission);
    if (key !== null) {
      const hit = state.cache.get(key, now);
      if (hit !== undefined) return hit;
    }
    const ev = await state.policy.evaluate(token, permission, now * 1e9);
    const d = decision(ev.allow, ev.reasons, state.revision);
    const span = key !== null && validity(ev.instants, now);
    if (span) state.cache.put(key, span, d);
    return d;
  }

  async principal(token) {
    const state = this.state;
    if (state.policy === null) {
      const reason = state.denial.reasons[0] ?? NOT_READY;
      throw new NotReadyError(reason, denialMessage(reason));
    }
    const now = this.clock();
    const key = cacheKey(token, null);
    let hit = key === null ? undefined : state.cache.get(key, now);
    if (hit === undefined) {
      const ev = await state.policy.evaluate(token, null, now * 1e9);
      hit = ev.principal !== null ? principalOf(toPlain(ev.principal)) : ev.reasons.find((r) => r.startsWith('token_')) ?? TOKEN_INVALID;
      const span = key !== null && validity(ev.instants, now);
      if (span) state.cache.put(key, span, hit);
    }
    if (typeof hit === 'string') throw new InvalidTokenError(hit);
    return hit;
  }

  async poll() {
    await this.refreshKeys();
    if (!this.closed) await this.refreshBundle();
  }

  async refreshKeys() {
    let resp;
    try {
      this.requests++;
      resp = await this.request(this.jwksUrl, { headers: { accept: 'application/json' } }, MAX_JWKS_BYTES);
    } catch (e) {
      if (!this.closed) this.failed('jwks', `gaia-iam: cannot fetch the IAM's JWKS from ${this.jwksUrl}: ${e.cause?.message ?? e.message}; keeping the keys it has`);
      return false;
    }
    if (resp.status !== 200) {
      this.failed('jwks', `gaia-iam: the IAM answered ${resp.status} for ${this.jwksUrl}; keeping the keys it has`);
      return false;
    }
    let parsed;
    try {
      parsed = await parseIamJwks(resp.body);
    } catch (e) {
      this.failed('jwks', `gaia-iam: the IAM's JWKS is unusable (${e.message}); keeping the keys it has`);
      return false;
    }
    this.recovered('jwks', "gaia-iam: fetching the IAM's JWKS again");
    if (parsed.id === this.keysId) return false;
    this.keys = parsed.keys;
    this.keysId = parsed.id;
    this.keysRaw = resp.body;
    this.log.info(`gaia-iam: the IAM's JWKS holds keys ${[...parsed.keys.keys()].sort().join(', ')}`);
    return true;
  }

  async refreshBundle() {
    const headers = { accept: 'application/gzip, application/vnd.openpolicyagent.bundles' };
    if (this.etag && this.state !== NO_BUNDLE) headers['if-none-match'] = this.etag;
    let resp;
    try {
      this.requests++;
      resp = await this.request(this.bundleUrl, { headers }, MAX_BUNDLE_BYTES);
    } catch (e) {
      if (!this.closed) this.failed('bundle', `gaia-iam: cannot fetch the bundle from ${this.bundleUrl}: ${e.cause?.message ?? e.message}; keeping revision ${JSON.stringify(this.state.revision)}`);
      return;
    }
    if (resp.status === 304) {
      this.recovered('bundle', 'gaia-iam: fetching the bundle again');
      return;
    }
    if (resp.status !== 200) {
      this.failed('bundle', `gaia-iam: the IAM answered ${resp.status} for ${this.bundleUrl}; keeping revision ${JSON.stringify(this.state.revision)}`);
      return;
    }
    this.recovered('bundle', 'gaia-iam: fetching the bundle again');
    // As OPA does, forget the ETag unless this bundle is activated.
    this.etag = null;
    if (await this.offer(resp.body, { fromIam: true })) this.etag = resp.headers.get('etag');
  }

  /** Verify and activate raw; false (logged once) when refused. */
  async offer(raw, { fromIam, mayRefetch = true }) {
    const sha = createHash('sha256').update(raw).digest('hex');
    if (sha === this.state.sha256) return true;
    let bundle;
    try {
      bundle = await readBundle(raw, this.keys, { stockDigest: STOCK_POLICY_DIGEST });
    } catch (e) {
      if (e instanceof UnknownSigningKey && fromIam && mayRefetch && (await this.refreshKeys())) return this.offer(raw, { fromIam, mayRefetch: false });
      if (e instanceof BundleRefused) {
        this.refuse(sha, e.message);
        return false;
      }
      throw e;
    }
    if (!(await this.activate(bundle))) return false;
    if (fromIam) {
      await this.persist(JWKS_FILE, this.keysRaw);
      await this.persist(BUNDLE_FILE, raw);
    }
    return true;
  }

  refuse(sha, why) {
    if (this.refused.has(sha)) {
      this.log.debug(`gaia-iam: bundle ${sha.slice(0, 12)} refused again: ${why}`);
      return;
    }
    if (this.refused.size > 256) this.refused.clear();
    this.refused.add(sha);
    this.log.warn(`gaia-iam: bundle refused (${why}); keeping revision ${JSON.stringify(this.state.revision)}`);
  }

  async activate(bundle) {
    if (bundle.policyDigest !== STOCK_POLICY_DIGEST || bundle.wasm) {
      this.state = { policy: null, revision: bundle.revision, cache: null, denial: decision(false, [POLICY_UNSUPPORTED], bundle.revision), sha256: bundle.sha256, digest: bundle.policyDigest };
      if (!this.unsupported.has(bundle.policyDigest)) {
        this.unsupported.add(bundle.policyDigest);
        this.log.error(
          `gaia-iam: the IAM's bundle (revision ${JSON.stringify(bundle.revision)}) carries a policy this client does not implement ` +
            `(policy digest ${bundle.policyDigest}, stock ${STOCK_POLICY_DIGEST}): denying every check. Run a stock OPA beside the service ` +
            `and use sidecar mode: createAuthorizer({ iamUrl, opaUrl: 'http://127.0.0.1:8181' })`,
        );
      }
      return true;
    }
    const policy = await StockPolicy.create(bundle.data);
    if (this.issuer !== null && policy.issuer !== this.issuer) {
      this.refuse(bundle.sha256, `its issuer ${JSON.stringify(policy.issuer)} is not the configured issuer ${JSON.stringify(this.issuer)}`);
      return false;
    }
    this.state = { policy, revision: bundle.revision, cache: new DecisionCache(this.cacheSize), denial: null, sha256: bundle.sha256, digest: bundle.policyDigest };
    this.log.info(`gaia-iam: bundle revision ${JSON.stringify(bundle.revision)} active`);
    this.notify();
    return true;
  }

  async persist(name, data) {
    if (!this.cacheDir || !data) return;
    try {
      await writeAtomic(join(this.cacheDir, name), data);
    } catch (e) {
      this.log.warn(`gaia-iam: cannot write ${name} to the cache directory: ${e.message}`);
    }
  }

  async loadCached() {
    let rawKeys;
    let rawBundle;
    try {
      await mkdir(this.cacheDir, { recursive: true, mode: 0o700 });
      rawKeys = await readFile(join(this.cacheDir, JWKS_FILE));
      rawBundle = await readFile(join(this.cacheDir, BUNDLE_FILE));
    } catch (e) {
      if (e.code !== 'ENOENT') this.log.warn(`gaia-iam: cannot read the cache directory: ${e.message}`);
      return;
    }
    try {
      const parsed = await parseIamJwks(rawKeys);
      this.keys = parsed.keys;
      this.keysId = parsed.id;
      this.keysRaw = rawKeys;
    } catch (e) {
      this.log.warn(`gaia-iam: the cached JWKS is unusable: ${e.message}`);
      return;
    }
    if (await this.offer(rawBundle, { fromIam: false })) this.log.info(`gaia-iam: started from the cached bundle, revision ${JSON.stringify(this.state.revision)}`);
  }
}

// --- sidecar mode: a stock OPA answers ---

const SIDECAR_NOT_READY = decision(false, [NOT_READY], '');
const SIDECAR_ERROR = decision(false, [ERROR], '');

function sidecarDecision(result, revision) {
  if (!isObject(result) || typeof result.allow !== 'boolean') return null;
  const reasons = result.reasons ?? [];
  if (!Array.isArray(reasons)) return null;
  const names = reasons.filter((r) => typeof r === 'string').sort();
  if (result.allow && names.length) return null;
  return decision(result.allow, names, revision);
}

class SidecarError extends Error {}

class SidecarEngine extends Engine {
  constructor(opaUrl, opts) {
    super(opts);
    this.mode = 'sidecar';
    this.opaUrl = opaUrl;
    this.current = { revision: '', cache: new DecisionCache(this.cacheSize) };
    this.ready = false;
    this.requests = 0;
    this.start();
  }

  isReady() {
    return this.ready;
  }

  get revision() {
    return this.current.revision;
  }

  async ask(rule, input) {
    let resp;
    try {
      this.requests++;
      resp = await this.request(`${this.opaUrl}/v1/data/gaia/authz/${rule}?provenance=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ input }),
      });
    } catch (e) {
      throw new SidecarError(`cannot reach OPA: ${e.cause?.message ?? e.message}`);
    }
    if (resp.status !== 200) throw new SidecarError(`OPA answered ${resp.status}`);
    let doc;
    try {
      doc = JSON.parse(resp.body.toString('utf8'));
    } catch {
      throw new SidecarError("OPA's answer is not JSON");
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new SidecarError("OPA's answer is not an object");
    const gaia = doc.provenance?.bundles?.gaia;
    const revision = (gaia && typeof gaia === 'object' && typeof gaia.revision === 'string' && gaia.revision) || '';
    return { defined: 'result' in doc, result: doc.result, revision };
  }

  at(revision) {
    if (this.current.revision !== revision) this.current = { revision, cache: new DecisionCache(this.cacheSize) };
    return this.current;
  }

  remember(state, key, token, now, value) {
    if (key === null) return;
    const instants = tokenInstants(token);
    if (instants === null) return;
    const span = validity(instants, now);
    if (span) state.cache.put(key, span, value);
  }

  async authorize(token, permission) {
    if (typeof token !== 'string') return decision(false, [TOKEN_INVALID], this.current.revision);
    const now = this.clock();
    const key = cacheKey(token, permission);
    if (key !== null) {
      const hit = this.current.cache.get(key, now);
      if (hit !== undefined) return hit;
    }
    let answer;
    try {
      answer = await this.ask('decision', { token, permission });
    } catch (e) {
      this.failed('opa', `gaia-iam: sidecar OPA at ${this.opaUrl} failed: ${e.message}`);
      return SIDECAR_ERROR;
    }
    this.recovered('opa', 'gaia-iam: sidecar OPA answers again');
    if (!answer.defined) {
      this.ready = false;
      return SIDECAR_NOT_READY;
    }
    const d = sidecarDecision(answer.result, answer.revision);
    if (d === null) {
      this.failed('opa-answer', "gaia-iam: sidecar OPA's decision is malformed");
      return SIDECAR_ERROR;
    }
    this.ready = true;
    this.remember(this.at(answer.revision), key, token, now, d);
    return d;
  }

  async principal(token) {
    if (typeof token !== 'string') throw new InvalidTokenError(TOKEN_INVALID);
    const now = this.clock();
    const key = cacheKey(token, null);
    let hit = key === null ? undefined : this.current.cache.get(key, now);
    if (hit === undefined) {
      let answer;
      try {
        answer = await this.ask('principal', { token });
      } catch (e) {
        this.failed('opa', `gaia-iam: sidecar OPA at ${this.opaUrl} failed: ${e.message}`);
        throw new NotReadyError(ERROR, 'authorization is unavailable');
      }
      if (answer.defined && answer.result && typeof answer.result === 'object' && !Array.isArray(answer.result)) {
        hit = principalOf(answer.result);
      } else {
        const d = await this.authorize(token, '');
        let reason = d.reasons.find((r) => r.startsWith('token_'));
        if (reason === undefined) {
          const decided = d.allow || d.reasons.includes(PERMISSION_MISSING);
          if (!decided) throw new NotReadyError(d.reasons[0] ?? NOT_READY, denialMessage(d.reasons[0] ?? NOT_READY));
          reason = TOKEN_INVALID;
        }
        hit = reason;
      }
      this.remember(this.at(answer.revision), key, token, now, hit);
    }
    if (typeof hit === 'string') throw new InvalidTokenError(hit);
    return hit;
  }

  async poll() {
    let answer;
    try {
      answer = await this.ask('decision', { token: '', permission: '' });
    } catch (e) {
      this.ready = false;
      if (!this.closed) this.failed('opa', `gaia-iam: sidecar OPA at ${this.opaUrl} failed: ${e.message}`);
      return;
    }
    this.recovered('opa', 'gaia-iam: sidecar OPA answers again');
    const was = this.ready;
    this.ready = answer.defined && sidecarDecision(answer.result, answer.revision) !== null;
    if (this.ready) {
      this.at(answer.revision);
      if (!was) this.log.info(`gaia-iam: sidecar OPA ready, bundle revision ${JSON.stringify(answer.revision)}`);
    }
  }
}

// --- HTTP answers, as sdk/middleware.go gives them ---

const REALM = 'Bearer realm="gaia"';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="gaia", error="invalid_token"';

/** The token of an `Authorization: Bearer <token>` header, or null (strings.Cut + TrimSpace). */
export function bearerToken(header) {
  if (typeof header !== 'string') return null;
  const i = header.indexOf(' ');
  if (i < 0) return null;
  const token = header.slice(i + 1).trim();
  return header.slice(0, i).toLowerCase() === 'bearer' && token ? token : null;
}

const refusal = (status, error, message, headers = {}) => ({ status, error, message, headers });
const BEARER_REQUIRED = refusal(401, 'invalid_token', 'a bearer token is required', { 'WWW-Authenticate': REALM });
const NOT_VALID = refusal(401, 'invalid_token', 'token is not valid', { 'WWW-Authenticate': INVALID_TOKEN_CHALLENGE });

function refusalFor(d, permission) {
  const r = d.reasons.find((x) => x.startsWith('token_'));
  if (r) return refusal(401, 'invalid_token', `token is ${r.slice(6)}`, { 'WWW-Authenticate': INVALID_TOKEN_CHALLENGE });
  if (d.reasons.includes(PERMISSION_MISSING)) return refusal(403, 'forbidden', `missing permission ${permission}`);
  const reason = d.reasons[0] ?? NOT_READY;
  return refusal(503, 'unavailable', reason === NOT_READY ? 'authorization policy not loaded yet' : 'authorization is unavailable', { 'Retry-After': '1' });
}

// Go's json.Encoder: HTML-escaped, with a trailing newline.
const goEncode = (body) =>
  JSON.stringify(body).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\n';

function writeRefusal(res, r) {
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.statusCode = r.status;
  res.end(goEncode({ error: r.error, message: r.message }));
}

// --- the public object ---

class Authorizer {
  #engine;
  constructor(opts) {
    if (!opts || typeof opts !== 'object') throw new TypeError('createAuthorizer needs options: { iamUrl, ... }');
    this.iamUrl = opts.iamUrl ? checkUrl(opts.iamUrl, 'iamUrl') : null;
    this.opaUrl = opts.opaUrl ? checkUrl(opts.opaUrl, 'opaUrl') : null;
    if (!this.iamUrl && !this.opaUrl) throw new TypeError('createAuthorizer needs iamUrl');
    this.#engine = this.opaUrl ? new SidecarEngine(this.opaUrl, opts) : new EmbeddedEngine(this.iamUrl, opts);
  }
  get mode() {
    return this.#engine.mode;
  }
  /** The revision of the bundle deciding now ("" before the first). */
  get revision() {
    return this.#engine.revision;
  }
  /** Requests made to the IAM (or OPA) so far: for tests. */
  get requestCount() {
    return this.#engine.requests;
  }
  isReady() {
    return this.#engine.isReady();
  }
  whenReady(timeoutMs) {
    return this.#engine.whenReady(timeoutMs);
  }
  /** The policy's decision { allow, reasons, revision }; never rejects. */
  async authorize(token, permission) {
    try {
      return await this.#engine.authorize(token, permission);
    } catch (e) {
      this.#engine.log.error(`gaia-iam: authorization failed: ${e?.stack ?? e}`);
      return decision(false, [ERROR], this.#engine.revision);
    }
  }
  async hasPermission(token, permission) {
    try {
      return (await this.#engine.authorize(token, permission)).allow === true;
    } catch {
      return false;
    }
  }
  /** The caller of a valid, unrevoked token; throws InvalidTokenError or NotReadyError. */
  principal(token) {
    return this.#engine.principal(token);
  }
  /** [decision, principal | null], for middleware. */
  check(token, permission) {
    return this.#engine.check(token, permission);
  }
  /** Express (or node:http) middleware: req.principal, or 401/403/503 as the Go SDK answers. */
  requirePermission(permission) {
    if (typeof permission !== 'string' || !permission) throw new TypeError('requirePermission needs a permission name');
    return (req, res, next) => {
      const token = bearerToken(req.headers?.authorization);
      if (token === null) return writeRefusal(res, BEARER_REQUIRED);
      this.#engine.check(token, permission).then(
        ([d, p]) => {
          if (!d.allow) return writeRefusal(res, refusalFor(d, permission));
          if (p === null) return writeRefusal(res, NOT_VALID);
          req.principal = p;
          if (typeof next === 'function') next();
        },
        (e) => {
          this.#engine.log.warn(`gaia-iam: request denied without a decision: ${e?.message ?? e}`);
          writeRefusal(res, refusal(503, 'unavailable', e instanceof NotReadyError && e.reason === NOT_READY ? 'authorization policy not loaded yet' : 'authorization is unavailable', { 'Retry-After': '1' }));
        },
      );
    };
  }
  /** Stop every timer and request; decisions keep the last bundle. */
  close() {
    return this.#engine.close();
  }
}

export function createAuthorizer(opts) {
  return new Authorizer(opts);
}

// The stock gaia.authz policy (policies/authz.rego) evaluated in JS, with
// the semantics of the OPA version the IAM pins: io.jwt.decode_verify and
// io.jwt.decode as topdown/tokens.go implements them (no kid, or a kid no
// key has: every key is tried), Rego's undefined-ness and value ordering.
// A port of clients/python/gaia_iam/decide.py; signatures are verified by
// jose, keys imported by jose.
import { compactVerify, importJWK } from 'jose';
import { GoNumber, GoJSONError, b64urlOPA, isObject, numberOf, parse } from './gojson.js';

// The digest (testdata/conformance/README.md's rule) of the one policy this
// module implements: policies/authz.rego as the IAM ships it.
export const STOCK_POLICY_DIGEST = 'bc23ee288902e15de858ac98d6a6c499c0f1f7198c0101d95e661e006afb3086';

const ALG = 'RS256';
const TYPES = new Set(['user', 'service']);
const TOKEN_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'EdDSA']);
const KEY_TYPES = new Set(['RSA', 'EC', 'OKP', 'oct']);
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

// --- Rego values -------------------------------------------------------

function rank(v) {
  if (v === null) return 0;
  if (v === true || v === false) return 1;
  if (v instanceof GoNumber || typeof v === 'number') return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 7;
  return 8;
}

/** ast.Compare for JSON values: -1, 0 or 1. */
export function regoCompare(a, b) {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  const cmp = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  if (ra === 1) return cmp(a, b);
  if (ra === 2) return cmp(numberOf(a), numberOf(b));
  if (ra === 3) return cmp(a, b);
  if (ra === 7) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = regoCompare(a[i], b[i]);
      if (c) return c;
    }
    return cmp(a.length, b.length);
  }
  if (ra === 8) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
      const c = regoCompare(ka[i], kb[i]) || regoCompare(a[ka[i]], b[kb[i]]);
      if (c) return c;
    }
    return cmp(ka.length, kb.length);
  }
  return 0;
}

const UNDEFINED = Symbol('undefined');

function get(collection, key) {
  if (isObject(collection)) return typeof key === 'string' && has(collection, key) ? collection[key] : UNDEFINED;
  return UNDEFINED;
}

function path(root, ...keys) {
  for (const k of keys) {
    root = get(root, k);
    if (root === UNDEFINED) break;
  }
  return root;
}

// --- keys: data.gaia.keys as io.jwt.decode_verify reads it ---------------

class KeySetError extends Error {}

async function parseKey(obj) {
  if (!isObject(obj)) throw new KeySetError('a JWK must be an object');
  const kty = obj.kty;
  if (typeof kty !== 'string' || !KEY_TYPES.has(kty)) throw new KeySetError('a JWK needs a supported kty');
  const kid = has(obj, 'kid') ? obj.kid : '';
  const alg = has(obj, 'alg') ? obj.alg : '';
  if (typeof kid !== 'string' || typeof alg !== 'string') throw new KeySetError("a JWK's kid and alg must be strings");
  if (alg && !TOKEN_ALGORITHMS.has(alg)) return null; // tokens.go skips keys with an unknown alg
  if (kty !== 'RSA' || (alg && alg !== ALG)) return { kid, alg, key: null };
  if (typeof obj.n !== 'string' || typeof obj.e !== 'string') throw new KeySetError('RSA key fields n and e must be strings');
  let key = null;
  try {
    key = await importJWK({ kty: 'RSA', n: obj.n, e: obj.e }, ALG);
  } catch {
    key = null; // parses, but cannot verify
  }
  return { kid, alg, key };
}

async function parseKeySet(value) {
  if (!isObject(value)) throw new KeySetError('the key set must be a JSON object');
  if (!has(value, 'keys')) {
    const k = await parseKey(value);
    return k ? [k] : [];
  }
  if (!Array.isArray(value.keys)) throw new KeySetError('"keys" must be an array');
  if (value.keys.length > 1000) throw new KeySetError('too many keys');
  return (await Promise.all(value.keys.map(parseKey))).filter(Boolean);
}

// --- io.jwt.decode_verify / io.jwt.decode (topdown/tokens.go) ------------

function jsonObject(raw) {
  try {
    const v = parse(raw);
    return isObject(v) ? v : null;
  } catch (e) {
    if (e instanceof GoJSONError) return null;
    throw e;
  }
}

function decodeHeader(part) {
  const raw = b64urlOPA(part);
  if (raw === null) return null;
  const header = jsonObject(raw);
  if (header === null || has(header, 'enc')) return null; // a JWE
  return header;
}

function parseHeader(header) {
  const fields = { alg: '', kid: '', typ: '', cty: '' };
  let crit = null;
  const unknown = [];
  for (const [name, value] of Object.entries(header)) {
    if (has(fields, name)) {
      if (typeof value !== 'string') return null;
      fields[name] = value;
    } else if (name === 'crit') {
      if (!Array.isArray(value)) return null;
      crit = new Set();
      for (const item of value) {
        if (typeof item !== 'string') break;
        crit.add(item);
      }
      if (!crit.size) return null;
    } else unknown.push(name);
  }
  if (!fields.alg) return null;
  if (crit && unknown.some((n) => crit.has(n))) return null;
  return fields;
}

async function verifyWith(key, token) {
  if (!key) return false;
  try {
    await compactVerify(token, key, { algorithms: [ALG] });
    return true;
  } catch {
    return false;
  }
}

// tokenConstraints.verify: a kid naming a key picks that key only; no kid,
// or a kid no key has, tries every key whose alg is unset or the token's.
async function verifySignature(keys, header, token) {
  if (header.kid) {
    const named = keys.find((k) => k.kid === header.kid);
    if (named) return verifyWith(named.key, token);
  }
  for (const k of keys) {
    if (k.alg && k.alg !== header.alg) continue;
    if (await verifyWith(k.key, token)) return true;
  }
  return false;
}

const isJwtCty = (cty) => cty.length === 3 && cty.toLowerCase() === 'jwt';

async function signedPayload(keys, token) {
  let current = token;
  for (let depth = 0; depth < 32; depth++) {
    const parts = current.split('.');
    if (parts.length !== 3) return null;
    const raw = decodeHeader(parts[0]);
    if (raw === null) return null;
    const header = parseHeader(raw);
    if (header === null || header.alg !== ALG) return null;
    if (b64urlOPA(parts[2]) === null) return null;
    if (!(await verifySignature(keys, header, current))) return null;
    const payload = b64urlOPA(parts[1]);
    if (payload === null) return null;
    if (isJwtCty(header.cty)) {
      current = payload.toString('utf8');
      continue;
    }
    return jsonObject(payload);
  }
  return null;
}

function claimsOk(payload, issuer) {
  if (issuer) {
    if (!has(payload, 'iss') || typeof payload.iss !== 'string' || payload.iss !== issuer) return false;
  }
  if (has(payload, 'aud')) {
    const aud = payload.aud;
    if (typeof aud === 'string') {
      if (aud !== '') return false;
    } else if (Array.isArray(aud)) {
      if (!aud.some((a) => a === '')) return false;
    } else return false;
  }
  return true;
}

function timeOk(payload, timeNs, instants) {
  const now = timeNs / 1e9;
  if (has(payload, 'exp')) {
    const exp = numberOf(payload.exp);
    if (exp === undefined) return false;
    instants.push(exp);
    if (now >= exp) return false;
  }
  if (has(payload, 'nbf')) {
    const nbf = numberOf(payload.nbf);
    if (nbf === undefined) return false;
    instants.push(nbf);
    if (now < nbf) return false;
  }
  return true;
}

function jwtDecode(token) {
  let current = token;
  for (let depth = 0; depth < 32; depth++) {
    const parts = current.split('.');
    if (parts.length !== 3) return null;
    const header = decodeHeader(parts[0]);
    if (header === null) return null;
    const payload = b64urlOPA(parts[1]);
    if (payload === null) return null;
    if (has(header, 'cty')) {
      if (typeof header.cty !== 'string') return null;
      if (header.cty === 'JWT') {
        current = payload.toString('utf8').replace(/^["']+|["']+$/g, '');
        continue;
      }
    }
    const obj = jsonObject(payload);
    if (obj === null || b64urlOPA(parts[2]) === null) return null;
    return obj;
  }
  return null;
}

/** exp and nbf of an unverified token (to bound a cached sidecar answer), or null. */
export function tokenInstants(token) {
  if (typeof token !== 'string') return null;
  const payload = jwtDecode(token);
  if (payload === null) return null;
  const out = [];
  for (const name of ['exp', 'nbf']) {
    if (has(payload, name)) {
      const v = numberOf(payload[name]);
      if (v === undefined) return null;
      out.push(v);
    }
  }
  return out;
}

// --- the policy ----------------------------------------------------------

/** policies/authz.rego over one bundle's data. Build with StockPolicy.create(data). */
export class StockPolicy {
  static async create(data) {
    const p = new StockPolicy();
    const gaia = get(data, 'gaia');
    const keys = path(gaia, 'keys');
    const issuer = path(gaia, 'config', 'issuer');
    p.issuer = typeof issuer === 'string' ? issuer : null;
    p.keys = null;
    if (keys !== UNDEFINED && p.issuer !== null) {
      try {
        p.keys = await parseKeySet(keys);
      } catch (e) {
        if (!(e instanceof KeySetError)) throw e;
        p.keys = null; // io.jwt.decode_verify errors: undefined
      }
    }
    p.roles = path(gaia, 'roles');
    p.grants = null;
    if (isObject(p.roles)) {
      p.grants = new Map();
      for (const [role, grants] of Object.entries(p.roles)) {
        const list = Array.isArray(grants) ? grants : isObject(grants) ? Object.values(grants) : [];
        p.grants.set(role, new Set(list.filter((g) => typeof g === 'string')));
      }
    }
    p.jti = path(gaia, 'revocations', 'jti');
    p.subjects = path(gaia, 'revocations', 'subjects');
    return p;
  }

  /**
   * data.gaia.authz.decision (and principal) at nowNs (a number of ns):
   * { allow, reasons, principal (claims or null), instants (exp/nbf compared) }.
   */
  async evaluate(token, permission, nowNs) {
    const instants = [];
    const usable = typeof token === 'string' && this.keys !== null && this.issuer !== null;
    const payload = usable ? await signedPayload(this.keys, token) : null;
    const claims = this.#claims(payload, nowNs, instants);
    if (claims === null) {
      const expired = usable && this.#expired(token, payload, nowNs, instants);
      return { allow: false, reasons: [expired ? 'token_expired' : 'token_invalid'], principal: null, instants };
    }
    const revoked = this.#revoked(claims);
    const granted = this.#granted(claims, permission);
    const reasons = [];
    if (!granted) reasons.push('permission_missing'); // sorted: before token_revoked
    if (revoked) reasons.push('token_revoked');
    return { allow: granted && !revoked, reasons, principal: revoked ? null : claims, instants };
  }

  #claims(payload, nowNs, instants) {
    if (payload === null || !claimsOk(payload, this.issuer || '')) return null;
    if (!timeOk(payload, nowNs, instants)) return null;
    if (typeof payload.type !== 'string' || !TYPES.has(payload.type) || !has(payload, 'type')) return null;
    if (!has(payload, 'roles') || !Array.isArray(payload.roles)) return null;
    return payload;
  }

  // _expired: not _valid, exp over, and verified at the last second of its lifetime.
  #expired(token, payload, nowNs, instants) {
    const decoded = jwtDecode(token);
    if (decoded === null || !has(decoded, 'exp')) return false;
    const exp = numberOf(decoded.exp);
    if (exp === undefined) return false;
    instants.push(exp);
    if (nowNs < exp * 1e9) return false; // time.now_ns() >= payload.exp * 1000000000
    const timeNs = (exp - 1) * 1e9;
    if (!(timeNs >= 0) || timeNs === Infinity) return false; // constraint time must be a non-negative float64
    if (payload === null || !claimsOk(payload, this.issuer)) return false;
    return timeOk(payload, timeNs, []);
  }

  #revoked(claims) {
    if (has(claims, 'jti')) {
      const hit = get(this.jti, claims.jti);
      if (hit !== UNDEFINED && hit !== false) return true;
    }
    if (has(claims, 'iat') && has(claims, 'sub')) {
      const notBefore = get(this.subjects, claims.sub);
      if (notBefore !== UNDEFINED && regoCompare(claims.iat, notBefore) <= 0) return true;
    }
    return false;
  }

  #granted(claims, permission) {
    if (typeof permission !== 'string' || this.grants === null) return false;
    for (const role of claims.roles) {
      if (typeof role !== 'string') continue;
      const held = this.grants.get(role);
      if (held && held.has(permission)) return true;
    }
    return false;
  }
}

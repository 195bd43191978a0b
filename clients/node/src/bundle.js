// Reading and verifying the IAM's signed policy bundle as OPA does
// (bundle.Reader.Read with the Go SDK's configuration: signature
// mandatory, keys from the IAM's JWKS by kid). A port of
// clients/python/gaia_iam/bundle.py: the gzipped tar is read with
// tar-stream, the signature JWT verified with jose.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { compactVerify } from 'jose';
import tar from 'tar-stream';
import { GoJSONError, b64RawURL, canonical, isObject, parse } from './gojson.js';

export const MAX_UNPACKED_BYTES = 256 << 20;
const HASHES = { MD5: 'md5', 'SHA-1': 'sha1', 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512', 'SHA-512-224': 'sha512-224', 'SHA-512-256': 'sha512-256' };
const STOCK_RULES = ['allow', 'decision', 'reasons', 'principal', 'claims', '_constraints', '_valid', '_expired', '_revoked', '_granted'];

export class BundleRefused extends Error {}

/** The bundle is signed under a key id the JWKS does not (yet) hold. */
export class UnknownSigningKey extends BundleRefused {
  constructor(kid) {
    super(`verification key ${JSON.stringify(kid)} is not in the IAM's JWKS`);
    this.kid = kid;
  }
}

const goBase = (p) => {
  if (p === '') return '.';
  const s = p.replace(/\/+$/, '');
  return s === '' ? '/' : s.slice(s.lastIndexOf('/') + 1);
};
const goDir = (p) => {
  const head = p.slice(0, p.lastIndexOf('/') + 1);
  const parts = [];
  for (const seg of head.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
};

const sha256hex = (b) => createHash('sha256').update(b).digest('hex');

/** testdata/conformance/README.md's digest of a bundle's Rego modules. */
export function policyDigest(modules) {
  const entries = modules
    .map(([p, raw]) => [Buffer.from(p.replace(/^\/+/, ''), 'utf8'), raw])
    .sort((a, b) => Buffer.compare(a[0], b[0]));
  const h = createHash('sha256');
  for (const [p, raw] of entries) h.update(Buffer.concat([p, Buffer.from(`\n${sha256hex(raw)}\n`)]));
  return h.digest('hex');
}

async function tarFiles(raw) {
  let unpacked;
  try {
    unpacked = gunzipSync(raw, { maxOutputLength: MAX_UNPACKED_BYTES });
  } catch (e) {
    throw new BundleRefused(`archive read failed: ${e.message}`);
  }
  const files = [];
  const extract = tar.extract();
  try {
    const done = (async () => {
      for await (const entry of extract) {
        const chunks = [];
        for await (const c of entry) chunks.push(c);
        if (entry.header.type === 'file') files.push([entry.header.name, Buffer.concat(chunks)]);
      }
    })();
    Readable.from([unpacked]).pipe(extract);
    await done;
  } catch (e) {
    throw new BundleRefused(`archive read failed: ${e.message}`);
  }
  return files;
}

function json(raw, what, firstValue = true) {
  try {
    return parse(raw, { firstValue });
  } catch (e) {
    if (e instanceof GoJSONError) throw new BundleRefused(`${what}: ${e.message}`);
    throw e;
  }
}

// Go's encoding/json into a struct matches field names case-insensitively.
function field(obj, name) {
  if (!isObject(obj)) return undefined;
  if (Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  let found;
  for (const k of Object.keys(obj)) if (k.toUpperCase() === name.toUpperCase()) found = obj[k];
  return found;
}
function stringField(obj, name, what) {
  const v = field(obj, name);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new BundleRefused(`${what}: ${name} must be a string`);
  return v;
}

async function verifySignatureJWT(token, keys) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new BundleRefused('failed to split compact JWT');
  const headerRaw = b64RawURL(parts[0]);
  if (headerRaw === null) throw new BundleRefused('failed to extract key ID from headers: bad base64');
  const header = json(headerRaw, 'failed to extract key ID from headers', false);
  let kid = '';
  if (isObject(header) && 'kid' in header) {
    if (typeof header.kid !== 'string') throw new BundleRefused('failed to extract key ID from headers: kid is not a string');
    kid = header.kid;
  }
  const payloadRaw = b64RawURL(parts[1]);
  if (payloadRaw === null) throw new BundleRefused('failed to base64 decode JWT payload');
  const ds = json(payloadRaw, 'signature payload', false);
  if (!isObject(ds)) throw new BundleRefused('signature payload: expected an object');
  if (!kid) kid = stringField(ds, 'keyid', 'signature payload');
  if (!kid) throw new BundleRefused('verification key ID is empty');
  const key = keys.get(kid);
  if (!key) throw new UnknownSigningKey(kid);
  try {
    await compactVerify(token, key, { algorithms: ['RS256'] });
  } catch {
    throw new BundleRefused('failed to verify JWT signature');
  }
  if (stringField(ds, 'scope', 'signature payload') !== '') throw new BundleRefused('scope mismatch');
  const files = new Map();
  const list = field(ds, 'files');
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) throw new BundleRefused('signature payload: files must be an array');
    for (const f of list) {
      if (f !== null && !isObject(f)) throw new BundleRefused('signature payload: a file must be an object');
      const info = { name: stringField(f, 'name', 'file'), hash: stringField(f, 'hash', 'file'), algorithm: stringField(f, 'algorithm', 'file') };
      files.set(info.name, info);
    }
  }
  return files;
}

const isStructured = (p) => ['data.json', 'data.yaml', 'data.yml', '.manifest'].includes(goBase(p));

function structuredValue(raw, p) {
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) raw = raw.subarray(3);
  try {
    return parse(raw);
  } catch (e) {
    if (e instanceof GoJSONError) throw new BundleRefused(`${p}: not JSON (YAML bundle files are not supported)`);
    throw e;
  }
}

function verifyFile(p, raw, files) {
  const info = files.get(p);
  if (!info) throw new BundleRefused(`file ${p} not included in bundle signature`);
  if (!info.algorithm) throw new BundleRefused(`no hashing algorithm provided for file ${p}`);
  const alg = HASHES[info.algorithm];
  if (!alg) throw new BundleRefused(`unsupported hashing algorithm: ${info.algorithm}`);
  const h = createHash(alg).update(isStructured(p) ? canonical(structuredValue(raw, p)) : raw);
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(info.hash)) throw new BundleRefused(`${p}: signature hash is not hex`);
  if (!Buffer.from(info.hash, 'hex').equals(h.digest())) throw new BundleRefused(`${p}: digest mismatch`);
  files.delete(p);
}

const segments = (p) => p.split('/');
function rootContains(root, other) {
  if (root.length === 1 && root[0] === '') return true;
  if (root.length > other.length) return false;
  return root.every((s, i) => s === other[i]);
}

function merge(a, b) {
  for (const [k, add] of Object.entries(b)) {
    if (k in a) {
      if (!isObject(a[k]) || !isObject(add)) throw new BundleRefused(`failed to insert data file at ${k}`);
      merge(a[k], add);
    } else a[k] = add;
  }
  return a;
}

function packageOf(raw) {
  for (const line of raw.toString('utf8').split(/\r?\n/)) {
    const s = line.trim();
    if (!s || s.startsWith('#')) continue;
    const m = /^\s*package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)/.exec(line);
    return m ? m[1].split('.') : null;
  }
  return null;
}

/**
 * Verify and read a bundle; throws BundleRefused when OPA would refuse it.
 * keys: Map kid → jose key (the IAM's JWKS). Returns
 * { revision, data, modules, policyDigest, wasm, sha256 }.
 */
export async function readBundle(raw, keys, { stockDigest } = {}) {
  const entries = await tarFiles(raw);
  let signatures = null;
  let signaturesPath = null;
  const descriptors = [];
  for (const [name, content] of entries) {
    if (goBase(name) === '.signatures.json') {
      if (signaturesPath !== null) throw new BundleRefused(`bundle contains multiple signatures files: ${signaturesPath} and ${name}`);
      signaturesPath = name;
      signatures = json(content, 'signatures');
      continue;
    }
    descriptors.push([name, content]);
    if (goBase(name) === 'patch.json') {
      const patch = json(content, 'patch');
      const d = field(patch, 'data');
      if (Array.isArray(d) && d.length) throw new BundleRefused('delta bundles do not support signature verification');
    }
  }
  const sigList = signatures === null ? undefined : field(signatures, 'signatures');
  const plugin = signatures === null ? '' : stringField(signatures, 'plugin', 'signatures');
  if (signatures === null || ((sigList === undefined || sigList === null) && !plugin)) throw new BundleRefused('bundle missing .signatures.json file');
  if (plugin !== '' && plugin !== '_default') throw new BundleRefused(`no verifier exists under id ${plugin}`);
  if (sigList !== undefined && sigList !== null && !Array.isArray(sigList)) throw new BundleRefused('signatures: expected an array');
  const tokens = sigList || [];
  if (!tokens.length) throw new BundleRefused('.signatures.json: missing JWT (expected exactly one)');
  if (tokens.length > 1) throw new BundleRefused('.signatures.json: multiple JWTs not supported (expected exactly one)');
  if (typeof tokens[0] !== 'string') throw new BundleRefused('.signatures.json: the JWT must be a string');
  const files = await verifySignatureJWT(tokens[0], keys);
  for (const [name, content] of descriptors) verifyFile(name.startsWith('/') ? name.slice(1) : name, content, files);
  if (files.size) throw new BundleRefused(`file(s) ${[...files.keys()].sort().join(', ')} specified in bundle signatures but not found in the target bundle`);

  const dataFiles = [];
  const modules = [];
  let wasm = false;
  let manifest = null;
  for (const [name, content] of descriptors) {
    const base = goBase(name);
    if (name.endsWith('.rego')) modules.push([name, content]);
    else if (['policy.wasm', 'plan.json', 'plan.pb'].includes(base)) wasm = true;
    else if (['data.json', 'data.yaml', 'data.yml'].includes(base)) dataFiles.push([name, structuredValue(content, name)]);
    else if (name.endsWith('.manifest.pb')) throw new BundleRefused('protobuf manifests are not supported');
    else if (name.endsWith('.manifest')) {
      if (manifest !== null) throw new BundleRefused('bundle contains multiple manifest files');
      manifest = json(content, 'bundle load failed on manifest decode');
    }
  }
  const digest = policyDigest(modules);
  const revision = manifest === null ? '' : stringField(manifest, 'revision', 'manifest');
  let roots = [''];
  const mroots = manifest === null ? undefined : field(manifest, 'roots');
  if (mroots !== undefined && mroots !== null) {
    if (!Array.isArray(mroots) || mroots.some((r) => r !== null && typeof r !== 'string')) throw new BundleRefused('manifest: roots must be strings');
    roots = mroots.map((r) => (r || '').replace(/^\/+|\/+$/g, ''));
  }
  for (let i = 0; i < roots.length; i++)
    for (let j = i + 1; j < roots.length; j++) {
      const a = segments(roots[i]);
      const b = segments(roots[j]);
      if (rootContains(a, b) || rootContains(b, a)) throw new BundleRefused(`manifest has overlapped roots: '${roots[i]}' and '${roots[j]}'`);
    }
  for (const [name, content] of modules) {
    const pkg = packageOf(content);
    if (pkg === null) throw new BundleRefused(`${name}: no package clause`);
    if (!roots.some((r) => rootContains(segments(r), pkg))) throw new BundleRefused(`manifest roots do not permit package ${pkg.join('.')} in module '${name}'`);
  }
  // Activation: each data file merged at its directory, only what lies under the roots kept.
  let data = Object.create(null);
  for (const [name, value] of dataFiles.sort((a, b) => segments(goDir(a[0])).length - segments(goDir(b[0])).length)) {
    if (value === null) continue;
    const dir = goDir(name);
    const segs = dir ? dir.split('/').map((s) => decodeURIComponent(s)) : [];
    if (!segs.length && !isObject(value)) throw new BundleRefused('root value must be object');
    let tree = value;
    for (const s of segs.reverse()) tree = Object.assign(Object.create(null), { [s]: tree });
    data = merge(data, tree);
  }
  if (!(roots.length === 1 && roots[0] === '')) {
    const check = (node, at) => {
      for (const [k, child] of Object.entries(node)) {
        const p = at ? `${at}/${k}` : k;
        if (roots.some((r) => rootContains(segments(r), segments(p)))) continue;
        if (!roots.some((r) => r.startsWith(p)) || !isObject(child)) throw new BundleRefused(`manifest roots do not permit data at path '/${p}'`);
        check(child, p);
      }
    };
    check(data, '');
  }
  if (stockDigest !== undefined && digest === stockDigest) {
    const authz = isObject(data.gaia) ? data.gaia.authz : undefined;
    if (data.gaia !== undefined && !isObject(data.gaia)) throw new BundleRefused('data at gaia conflicts with package gaia.authz');
    if (authz !== undefined && !isObject(authz)) throw new BundleRefused('data at authz conflicts with package gaia.authz');
    if (isObject(authz) && STOCK_RULES.some((r) => r in authz)) throw new BundleRefused('data conflicts with the rules of package gaia.authz');
  }
  return { revision, data, modules, policyDigest: digest, wasm, sha256: sha256hex(raw) };
}

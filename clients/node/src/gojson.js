// JSON as the Go code OPA runs reads and writes it: encoding/json with
// UseNumber (numbers keep their source text), the canonical encoding OPA
// hashes bundle files with (bundle/hash.go: sorted keys, no whitespace, no
// HTML escaping), and base64 as Rego's base64url.decode accepts it.
// JSON.parse cannot keep a number's text, hence the small parser here.

/** A JSON number as json.Number keeps it: the text of the source. */
export class GoNumber {
  constructor(text) {
    this.text = text;
  }
  get value() {
    return Number(this.text);
  }
  toJSON() {
    return this.value;
  }
}

export class GoJSONError extends Error {}

const decoder = new TextDecoder('utf-8', { fatal: false }); // invalid UTF-8 → U+FFFD
const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESC = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Parse JSON text or bytes as util.UnmarshalJSON does: numbers become
 * GoNumber, objects null-prototype objects (the last duplicate wins), lone
 * surrogate escapes U+FFFD. With firstValue, bytes after the first value
 * are ignored (json.Decoder.Decode). Throws GoJSONError.
 */
export function parse(input, { firstValue = false } = {}) {
  const s = typeof input === 'string' ? input : decoder.decode(input);
  let i = 0;
  const fail = (what) => {
    throw new GoJSONError(`invalid JSON at offset ${i}: ${what}`);
  };
  const ws = () => {
    while (i < s.length && WS.has(s[i])) i++;
  };
  const str = () => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= s.length) fail('unterminated string');
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += s.slice(start, i);
        const e = s[i + 1];
        if (e === 'u') {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else if (e in ESC) {
          out += ESC[e];
          i += 2;
        } else fail('bad escape');
        start = i;
        continue;
      }
      i++;
    }
    out += s.slice(start, i);
    i++;
    return out.toWellFormed ? out.toWellFormed() : out.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  };
  const value = (depth) => {
    if (depth > 10000) fail('too deep');
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      const obj = Object.create(null);
      ws();
      if (s[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail('expected a key');
        const k = str();
        ws();
        if (s[i] !== ':') fail('expected :');
        i++;
        obj[k] = value(depth + 1);
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return obj;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const arr = [];
      ws();
      if (s[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return arr;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    if (s.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (s.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (s.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(s);
    if (!m) fail('unexpected character');
    i += m[0].length;
    return new GoNumber(m[0]);
  };
  const v = value(0);
  if (!firstValue) {
    ws();
    if (i !== s.length) fail('trailing data');
  }
  return v;
}

export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof GoNumber);

function byteCompare(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A string as Go's json.Encoder writes it with SetEscapeHTML(false). */
export function encodeString(s) {
  // JSON.stringify escapes as Go does (\b \f \n \r \t short, other controls
  // \u00xx, lone surrogates aside); Go also escapes U+2028 and U+2029.
  return JSON.stringify(s.toWellFormed ? s.toWellFormed() : s).replace(/[\u2028\u2029]/g, (c) =>
    c === '\u2028' ? '\\u2028' : '\\u2029',
  );
}

function walk(v, out) {
  if (v instanceof GoNumber) out.push(v.text);
  else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((x, n) => {
      if (n) out.push(',');
      walk(x, out);
    });
    out.push(']');
  } else if (v !== null && typeof v === 'object') {
    out.push('{');
    Object.keys(v)
      .sort(byteCompare)
      .forEach((k, n) => {
        if (n) out.push(',');
        out.push(encodeString(k), ':');
        walk(v[k], out);
      });
    out.push('}');
  } else if (typeof v === 'string') out.push(encodeString(v));
  else if (v === true || v === false || v === null) out.push(String(v));
  else if (typeof v === 'number' && Number.isFinite(v)) out.push(String(v));
  else throw new TypeError(`cannot encode ${typeof v}`);
}

/** The bytes OPA hashes for a structured bundle file (data.json, .manifest). */
export function canonical(v) {
  const out = [];
  walk(v, out);
  return Buffer.from(out.join(''), 'utf8');
}

/** A decoded value as plain JS (GoNumber → number, ordinary objects). */
export function toPlain(v) {
  if (v instanceof GoNumber) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v)) {
      Object.defineProperty(out, k, { value: toPlain(v[k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

/** A number's value (GoNumber or number), else undefined. */
export function numberOf(v) {
  if (v instanceof GoNumber) return v.value;
  if (typeof v === 'number') return v;
  return undefined;
}

const URL_BODY = /^[A-Za-z0-9_-]*$/;

/** Rego's base64url.decode (builtinBase64UrlDecode): padding optional. */
export function b64urlOPA(s) {
  s = s.replace(/[\r\n]/g, '');
  let body = s.replace(/=+$/, '');
  const pad = s.length - body.length;
  if (!URL_BODY.test(body)) return null;
  if (pad) {
    if (s.length % 4 || pad > 2) return null;
  } else if (body.length % 4 === 1) return null;
  return Buffer.from(body, 'base64url');
}

/** base64.RawURLEncoding as OPA's bundle verifier uses it: no padding, no line breaks. */
export function b64RawURL(s) {
  if (!URL_BODY.test(s) || s.length % 4 === 1) return null;
  return Buffer.from(s, 'base64url');
}

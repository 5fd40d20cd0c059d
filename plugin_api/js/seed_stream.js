// The assetvae seed stream "assetvae-splitmix-polar-v1" in JavaScript (docs/SEEDS.md).
//
// A port of assetvae.plugin_api.rng and ports/seed_stream.c, bit-identical to both and to
// rng_vectors.json: 64-bit integers as BigInt (wrapped with & M64), and between the integers
// and the float32 result only exactly rounded IEEE operations (+ - * / Math.sqrt) in the
// spec's order. No Math.log: V8's differs from glibc's in the last bit.
//
// Seeds, int keys, streams and indices: BigInt, a safe-integer Number, or (seeds, streams and
// indices only) a decimal string. A JS string key is a *string* key: 5 and "5" are different
// variants, exactly as in Python.

export const SPEC_NAME = "assetvae-splitmix-polar-v1";
export const STREAM_NORMALS = 0n;
export const STREAM_CHOICE = 1n;
export const MIN_TRUNCATION = 0.05; // API guard as in Python; the stream allows any tau > 0

const M64 = (1n << 64n) - 1n;
const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MIX_MUL1 = 0xbf58476d1ce4e5b9n;
const MIX_MUL2 = 0x94d049bb133111ebn;
const GOLDEN = 0x9e3779b97f4a7c15n;
const SEED_TAG = 0x6a09e667f3bcc908n;
const KEY_INT_TAG = 0xbb67ae8584caa73bn;
const KEY_STR_TAG = 0x3c6ef372fe94f82bn;
const STREAM_MUL = 0xa54ff53a5f1d36f1n;
const TWO_M53 = 2 ** -53;

// Doubles from their bit patterns (never from decimal text), as in the C port's hex floats.
const bits = new DataView(new ArrayBuffer(8));
function fromBits(hex) {
  bits.setBigUint64(0, BigInt("0x" + hex));
  return bits.getFloat64(0);
}
const LG = [
  "3fe5555555555593", "3fd999999997fa04", "3fd2492494229359", "3fcc71c51d8e78af",
  "3fc7466496cb03de", "3fc39a09d078c69f", "3fc2f112df3e5244",
].map(fromBits);
const [LG1, LG2, LG3, LG4, LG5, LG6, LG7] = LG;
const LN2_HI = fromBits("3fe62e42fee00000");
const LN2_LO = fromBits("3dea39ef35793c76");
const SQRT_HALF = fromBits("3fe6a09e667f3bcd");

/** A u64 argument as BigInt; RangeError/TypeError naming `what` otherwise. */
export function toU64(value, what = "seed") {
  let v;
  if (typeof value === "bigint") v = value;
  else if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`${what} must be an integer in [0, 2**64) (a Number above 2**53 ` +
        `loses digits: pass a BigInt), got ${value}`);
    }
    v = BigInt(value);
  } else if (typeof value === "string" && /^[0-9]+$/.test(value)) v = BigInt(value);
  else throw new TypeError(`${what} must be an int in [0, 2**64), got ${typeof value} ${value}`);
  if (v < 0n || v > M64) {
    throw new RangeError(`${what} must be in [0, 2**64) (negative ints are refused), got ${v}`);
  }
  return v;
}

export function mix(z) {
  z ^= z >> 30n;
  z = (z * MIX_MUL1) & M64;
  z ^= z >> 27n;
  z = (z * MIX_MUL2) & M64;
  return z ^ (z >> 31n);
}

const utf8 = new TextEncoder();
// A lone surrogate has no UTF-8 form (TextEncoder would silently write U+FFFD; Python refuses).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function fnv1a64(bytes) {
  let h = FNV_OFFSET;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & M64;
  return h;
}

/** The 64-bit hash of a variant key: a string (UTF-8) or an int (BigInt or safe Number). */
export function keyHash(key) {
  if (typeof key === "string") {
    if (LONE_SURROGATE.test(key)) {
      throw new RangeError(`key ${JSON.stringify(key)} is not valid Unicode text (lone ` +
        "surrogate); string keys must be encodable as UTF-8");
    }
    return mix(fnv1a64(utf8.encode(key)) ^ KEY_STR_TAG);
  }
  if (typeof key !== "bigint" && typeof key !== "number") {
    throw new TypeError(`key must be an int in [0, 2**64) or a str, got ${typeof key}`);
  }
  return mix(toU64(key, "key") ^ KEY_INT_TAG);
}

function streamBase(seed, stream) {
  return mix(toU64(seed, "seed") ^ SEED_TAG) ^ ((toU64(stream, "stream") * STREAM_MUL) & M64);
}

/** state(seed, key, stream) = mix(mix(seed ^ SEED_TAG) ^ keyHash(key) ^ stream * STREAM_MUL). */
export function variantState(seed, key, stream = STREAM_NORMALS) {
  return mix(streamBase(seed, stream) ^ keyHash(key));
}

/** Uniform double in [0, 1), a multiple of 2**-53: counter `index` of a stream state. */
export function uniformOf(state, index) {
  const word = mix((state + (BigInt(index) + 1n) * GOLDEN) & M64);
  return Number(word >> 11n) * TWO_M53; // < 2**53: exact
}

export function uniform(seed, key, stream = STREAM_CHOICE, index = 0n) {
  return uniformOf(variantState(seed, key, stream), toU64(index, "index"));
}

/** ln(x) of a positive normal double with only exactly rounded operations (SEEDS.md step 6). */
export function portableLog(x) {
  bits.setFloat64(0, x);
  const hi = bits.getUint32(0);
  let e = ((hi >>> 20) & 0x7ff) - 1022;
  bits.setUint32(0, (hi & 0x000fffff) | 0x3fe00000);
  let m = bits.getFloat64(0);
  if (m < SQRT_HALF) {
    m = m * 2.0;
    e = e - 1;
  }
  const f = m - 1.0;
  const t = f / (2.0 + f);
  const w = t * t;
  const r = w * (LG1 + w * (LG2 + w * (LG3 + w * (LG4 + w * (LG5 + w * (LG6 + w * LG7))))));
  const h = (0.5 * f) * f;
  const k = e;
  return k * LN2_HI - ((h - (t * (h + r) + k * LN2_LO)) - f);
}

export function checkTruncation(truncation) {
  if (truncation === null || truncation === undefined) return null;
  if (typeof truncation !== "number") {
    throw new TypeError(`truncation must be null or a number >= ${MIN_TRUNCATION}, ` +
      `got ${typeof truncation}`);
  }
  if (!(truncation >= MIN_TRUNCATION)) {
    throw new RangeError(`truncation must be null or >= ${MIN_TRUNCATION}, got ${truncation}`);
  }
  return truncation;
}

/** `dim` float32 normals of a stream state into `out` (a Float32Array) at `offset`. */
export function normalsOf(state, dim, tau = null, out = new Float32Array(dim), offset = 0) {
  let n = 0;
  for (let i = 0n; n < dim; i += 2n) {
    const u = 2.0 * uniformOf(state, i) - 1.0;
    const v = 2.0 * uniformOf(state, i + 1n) - 1.0;
    const s = u * u + v * v;
    if (s >= 1.0 || s === 0.0) continue; // rejected pair: the counter moves on
    const factor = Math.sqrt((-2.0 * portableLog(s)) / s);
    for (const x of [u * factor, v * factor]) {
      const y = Math.fround(x); // round to float32 here; truncation compares this value
      if (tau !== null && Math.abs(y) > tau) continue;
      if (n < dim) out[offset + n++] = y;
    }
  }
  return out;
}

/** The latent noise of variant (seed, key): Float32Array of `dim` standard normals. */
export function normals(seed, key, dim, truncation = null, stream = STREAM_NORMALS) {
  if (!Number.isInteger(dim) || dim < 0) throw new RangeError(`dim must be >= 0, got ${dim}`);
  return normalsOf(variantState(seed, key, stream), dim, checkTruncation(truncation));
}

/** normals() of many keys: Float32Array [keys.length * dim], row r = keys[r]. */
export function normalsBatch(seed, keys, dim, truncation = null, stream = STREAM_NORMALS) {
  if (!Number.isInteger(dim) || dim < 0) throw new RangeError(`dim must be >= 0, got ${dim}`);
  const tau = checkTruncation(truncation);
  const base = streamBase(seed, stream);
  const out = new Float32Array(keys.length * dim);
  keys.forEach((key, r) => normalsOf(mix(base ^ keyHash(key)), dim, tau, out, r * dim));
  return out;
}

/** Running left-to-right double sums of the weights, and the last positive weight's index. */
export function cumulative(weights) {
  if (!weights.length) throw new RangeError("weights must not be empty");
  const cum = new Float64Array(weights.length);
  let total = 0.0;
  let last = -1;
  weights.forEach((w, i) => {
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0) {
      throw new RangeError("weights must be finite and >= 0");
    }
    total = total + w;
    cum[i] = total;
    if (w > 0.0) last = i;
  });
  if (!(total > 0.0 && total < Infinity)) {
    throw new RangeError("weights must not all be zero, and must have a finite sum");
  }
  return { cum, last };
}

/** First i with u * total < cum[i], clamped to the last positive weight (SEEDS.md step 8). */
export function pick({ cum, last }, u) {
  const target = u * cum[cum.length - 1];
  for (let i = 0; i < last; i++) if (target < cum[i]) return i;
  return last;
}

export function choice(seed, key, weights, index = 0n, stream = STREAM_CHOICE) {
  return pick(cumulative(weights), uniform(seed, key, stream, index));
}

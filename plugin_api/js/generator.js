// The Generator in JavaScript: what a web game calls to turn (class, seed, key) into a sprite.
// It mirrors assetvae.plugin_api.Generator: the same methods, the same errors, the same
// latents bit for bit, and pixels from the same graph (onnxruntime-node gives Python's exact
// pixels; the browser's wasm build is within 1 level).
//
//   import * as ort from "onnxruntime-web";              // or "onnxruntime-node"
//   import { Generator } from "./plugin_api/js/index.js";
//   const gen = await Generator.load("plants.avae.onnx", { ort });
//   const oaks = await gen.variants("oak", [0, 1, "forest/oak/17"], { seed: 7, spread: 0.6 });
//   ctx.putImageData(new ImageData(oaks.image(2).data, oaks.width, oaks.height), x, y);
//
// ONNX Runtime is passed in, so this module runs unchanged in a browser and in node.

import { normalsBatch, toU64 } from "./seed_stream.js";
import {
  AssetVAEError, BundleError, METADATA_KEY, SamplingError, bundleManifest, readOnnx,
} from "./manifest.js";
import { blendGaussians, checkSpread, classLatents, latentSamples } from "./sampling.js";

export const MAX_VARIANTS = 1000000; // per call, as in Python
export const DECODE_CHUNK = 256; // rows per graph run

/** Decoded sprites: straight-alpha RGBA, [count, height, width, 4] in one Uint8ClampedArray. */
export class Sprites {
  constructor(data, count, size) {
    this.data = data;
    this.count = count;
    this.width = size;
    this.height = size;
  }

  /** Sprite i as {width, height, data}: `new ImageData(s.data, s.width, s.height)` takes it. */
  image(i) {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`sprite ${i} of ${this.count}`);
    const n = this.width * this.height * 4;
    return { width: this.width, height: this.height, data: this.data.subarray(i * n, (i + 1) * n) };
  }
}

// difflib.get_close_matches's ratio (Ratcliff/Obershelp), for "did you mean ...?".
function ratio(a, b) {
  const matches = (a0, a1, b0, b1) => {
    let best = [a0, b0, 0];
    for (let i = a0; i < a1; i++) {
      for (let j = b0; j < b1; j++) {
        let k = 0;
        while (i + k < a1 && j + k < b1 && a[i + k] === b[j + k]) k++;
        if (k > best[2]) best = [i, j, k];
      }
    }
    const [i, j, k] = best;
    return k === 0 ? 0 : k + matches(a0, i, b0, j) + matches(i + k, a1, j + k, b1);
  };
  const total = a.length + b.length;
  return total ? (2 * matches(0, a.length, 0, b.length)) / total : 1;
}

function checkKeys(keys) {
  if (typeof keys === "string") {
    throw new SamplingError(`keys must be a list of keys, not a single string; write ['${keys}']`);
  }
  if (keys === null || typeof keys !== "object" || typeof keys[Symbol.iterator] !== "function") {
    throw new SamplingError(`keys must be a list of ints and strs, got ${typeof keys}`);
  }
  const list = Array.isArray(keys) ? keys : Array.from(keys);
  if (list.length > MAX_VARIANTS) {
    throw new SamplingError(`${list.length} keys in one call; split into calls of at most ` +
      `${MAX_VARIANTS}`);
  }
  return list;
}

function checkN(n) {
  if (!Number.isInteger(n) || n < 0 || n > MAX_VARIANTS) {
    throw new SamplingError(`n=${n} is out of range: ask for 0 to ${MAX_VARIANTS} variants per call`);
  }
  return n;
}

/** The seed stream's errors (RangeError, TypeError) as SamplingErrors, like Python's. */
function sampling(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new SamplingError(e.message);
    throw e;
  }
}

const range = (n) => Array.from({ length: n }, (_, i) => i);

function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

async function fetchBytes(url) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    const hint = typeof process === "object" ? "; in node, open a file with loadGenerator(path) " +
      "from plugin_api/js/node.js" : "";
    throw new BundleError(`${url}: cannot fetch (${e.message})${hint}`);
  }
  if (!res.ok) throw new BundleError(`${url}: cannot fetch (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}

export class Generator {
  constructor(session, manifest, ort, where) {
    this._session = session;
    this._ort = ort;
    this.manifest = manifest;
    this.path = where;
    this._index = new Map(manifest.classes.map((c, i) => [c.name, i]));
    this._queue = Promise.resolve(); // one graph run at a time per session
  }

  /**
   * Open a bundle. `source`: its bytes (Uint8Array, ArrayBuffer) or a URL to fetch.
   * Options: `ort` (the onnxruntime-web or onnxruntime-node module; required), `sidecar` (the
   * NAME.avae.json text or object; fetched beside a URL when the graph has no embedded
   * manifest, or pass null to never look), `name` (the file name in messages),
   * `sessionOptions` (passed to ort.InferenceSession.create).
   * Throws BundleError for a file that is not an assetvae bundle, is from a newer major
   * format version, or whose manifest disagrees with its graph.
   */
  static async load(source, { ort, sidecar, name, sidecarName, sessionOptions } = {}) {
    if (!ort || !ort.InferenceSession) {
      throw new TypeError("Generator.load needs { ort }: the onnxruntime-web or -node module");
    }
    let bytes = source;
    let where = name;
    if (typeof source === "string" || source instanceof URL) {
      where = where ?? String(source).split("/").pop();
      bytes = await fetchBytes(source);
      if (sidecar === undefined && !embedded(bytes)) {
        const url = String(source).replace(/\.onnx(\?.*)?$/, ".json");
        sidecarName = sidecarName ?? url.split("/").pop();
        const res = await fetch(url);
        sidecar = res.ok ? await res.text() : null;
      }
    }
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("Generator.load takes a URL, a Uint8Array or an ArrayBuffer");
    }
    where = where ?? "bundle";
    const manifest = await bundleManifest(bytes, sidecar ?? null, where, sidecarName);
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions ?? {});
    } catch (e) {
      const first = String(e?.message ?? e).split("\n")[0].slice(0, 160);
      throw new BundleError(`${where}: not a valid ONNX bundle (${first}); re-export it with ` +
        "assetvae export");
    }
    return new Generator(session, manifest, ort, where);
  }

  get classes() {
    return this.manifest.classes.map((c) => c.name);
  }

  get imageSize() {
    return this.manifest.imageSize;
  }

  get latentDim() {
    return this.manifest.latentDim;
  }

  toString() {
    return `Generator('${this.path}', ${this.classes.length} classes, ${this.imageSize}px, ` +
      `latent ${this.latentDim})`;
  }

  _class(name) {
    const i = this._index.get(name);
    if (i !== undefined) return this.manifest.classes[i];
    const close = this.classes.map((c) => [ratio(String(name), c), c])
      .filter(([r]) => r >= 0.5).sort((a, b) => b[0] - a[0]).slice(0, 3).map(([, c]) => `'${c}'`);
    const hint = close.length ? `did you mean ${close.join(", ")}?`
      : `classes are: ${this.classes.slice(0, 20).join(", ")}`;
    throw new SamplingError(`unknown class '${name}'; ${hint}`);
  }

  _normals(seed, keys, truncation) {
    return sampling(() => {
      toU64(seed, "seed");
      return normalsBatch(seed, keys, this.latentDim, truncation ?? null);
    });
  }

  // --- latents --------------------------------------------------------------------------
  /** The latents z (Float32Array [keys.length * latentDim]) of variants `keys` of `cls`. */
  latents(cls, keys, { seed, spread = 1.0, truncation = null } = {}) {
    const c = this._class(cls);
    checkSpread(spread);
    keys = checkKeys(keys);
    const noise = this._normals(seed, keys, truncation);
    return sampling(() => classLatents(c, seed, keys, noise, this.latentDim, spread));
  }

  /** Latents of hybrids of classes a and b (t=0 is a, t=1 is b). */
  blendLatents(a, b, t, keys, { seed, spread = 1.0, truncation = null } = {}) {
    const ca = this._class(a);
    const cb = this._class(b);
    const [centroid, chol] = blendGaussians(ca.anchor, ca.chol, cb.anchor, cb.chol, t);
    keys = checkKeys(keys);
    const noise = this._normals(seed, keys, truncation);
    checkSpread(spread);
    const out = new Float32Array(keys.length * this.latentDim);
    return latentSamples(centroid, chol, noise, this.latentDim, spread, out, range(keys.length));
  }

  // --- images ---------------------------------------------------------------------------
  /** Decode latents (Float32Array [N * latentDim]) into Sprites, DECODE_CHUNK rows a run. */
  async decode(z) {
    const d = this.latentDim;
    if (!(z instanceof Float32Array) || z.length % d !== 0) {
      throw new SamplingError(`z must be a Float32Array of N * ${d} values`);
    }
    if (!z.every(Number.isFinite)) throw new SamplingError("z holds NaN or infinite values");
    const n = z.length / d;
    const s = this.imageSize;
    const px = s * s * 4;
    const out = new Uint8ClampedArray(n * px);
    for (let i = 0; i < n; i += DECODE_CHUNK) {
      const rows = Math.min(DECODE_CHUNK, n - i);
      const input = new this._ort.Tensor("float32", z.slice(i * d, (i + rows) * d), [rows, d]);
      const run = this._queue.then(() => this._session.run({ z: input }));
      this._queue = run.catch(() => {});
      const image = (await run).image;
      if (this.manifest.output === "float32_nchw") nchwToRgba(image.data, rows, s, out, i * px);
      else out.set(image.data, i * px);
      image.dispose?.();
      input.dispose?.();
    }
    return new Sprites(out, n, s);
  }

  /** One prop per key: same (seed, key) -> same pixels, always. */
  async variants(cls, keys, { seed, spread = 1.0, truncation = null } = {}) {
    return this.decode(this.latents(cls, keys, { seed, spread, truncation }));
  }

  /** n variants of cls: the variants with keys 0..n-1 under this seed. */
  async sample(cls, n, { seed = 0, spread = 1.0, truncation = null } = {}) {
    return this.variants(cls, range(checkN(n)), { seed, spread, truncation });
  }

  /** Hybrids of two classes: t=0 is a, t=1 is b. */
  async blend(a, b, t, keys, { seed, spread = 1.0, truncation = null } = {}) {
    return this.decode(this.blendLatents(a, b, t, keys, { seed, spread, truncation }));
  }

  /** The class prototype decoded (what spread 0 gives). */
  async prototype(cls) {
    return this.decode(Float32Array.from(this._class(cls).anchor));
  }

  async release() {
    await this._queue;
    await this._session.release?.();
  }
}

function embedded(bytes) {
  try {
    return METADATA_KEY in readOnnx(bytes).metadata;
  } catch {
    return true; // not ONNX: let bundleManifest say so
  }
}

function nchwToRgba(src, rows, s, out, offset) {
  // Python: clip(rint(img * 255), 0, 255) in float32, then NCHW -> NHWC.
  const plane = s * s;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 4; c++) {
      for (let p = 0; p < plane; p++) {
        const v = roundHalfEven(Math.fround(src[(r * 4 + c) * plane + p] * 255));
        out[offset + (r * plane + p) * 4 + c] = Math.min(255, Math.max(0, v));
      }
    }
  }
}

export { AssetVAEError, BundleError, SamplingError };

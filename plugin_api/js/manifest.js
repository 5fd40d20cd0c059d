// The bundle manifest in JavaScript: where it is found, and the same validation as
// plugin_api/manifest.py (the schema's owner), with the same messages.
//
// onnxruntime-web and onnxruntime-node expose no metadata_props, so the manifest comes from
// the .onnx bytes themselves (a small protobuf reader for ModelProto.metadata_props) or from
// the sidecar NAME.avae.json that `assetvae export --sidecar` writes, whose graph_sha256
// pairs it with its graph. The same reader gives the graph's input and output shapes, so a
// manifest that disagrees with its graph is refused before anything runs.

import { SPEC_NAME } from "./seed_stream.js";

export const FORMAT_NAME = "assetvae-bundle";
// 1.2 added animations (Python's Generator.animation): this runtime reads such bundles,
// samples their stills and ignores the animation records.
export const FORMAT_VERSION = "1.2";
export const METADATA_KEY = "assetvae.manifest";
export const OUTPUT_LAYOUTS = ["uint8_nhwc", "float32_nchw"];
const MAX_LATENT = 4096;
const MAX_IMAGE = 4096;
const MAX_EXEMPLARS = 100000;

/** Base of every error the caller's input can cause (as assetvae.plugin_api.AssetVAEError). */
export class AssetVAEError extends Error {
  constructor(message) {
    super(message);
    this.name = this.constructor.name;
  }
}
/** A file that is not an assetvae bundle, is damaged, or is from a newer version. */
export class BundleError extends AssetVAEError {}
/** A request that cannot be served: unknown class, bad spread, n, seed or key. */
export class SamplingError extends AssetVAEError {}

// --- protobuf: only what a bundle needs ----------------------------------------------------
const utf8 = new TextDecoder("utf-8", { fatal: false });

class ProtoError extends Error {}

/** Fields of one protobuf message: [{field, wire, value | start, end}], in order. */
function fields(buf, start = 0, end = buf.length) {
  const out = [];
  let p = start;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= end) throw new ProtoError("truncated varint");
      const b = buf[p++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    throw new ProtoError("varint too long");
  };
  while (p < end) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new ProtoError("field number 0");
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 1 || wire === 5) {
      p += wire === 1 ? 8 : 4;
      if (p > end) throw new ProtoError("truncated fixed field");
    } else if (wire === 2) {
      const len = varint();
      if (p + len > end) throw new ProtoError("length beyond the end");
      out.push({ field, wire, start: p, end: p + len });
      p += len;
    } else throw new ProtoError(`unsupported wire type ${wire}`);
  }
  return out;
}

const text = (buf, f) => utf8.decode(buf.subarray(f.start, f.end));
const sub = (buf, f, n) => fields(buf, f.start, f.end).filter((g) => g.field === n);

function valueInfo(buf, f) {
  // ValueInfoProto {1: name, 2: TypeProto {1: tensor_type {1: elem_type, 2: shape {1: dim}}}}
  const name = sub(buf, f, 1).map((g) => text(buf, g))[0] ?? "";
  let elemType = 0;
  let dims = null;
  for (const t of sub(buf, f, 2)) {
    for (const tt of sub(buf, t, 1)) {
      elemType = sub(buf, tt, 1).map((g) => g.value)[0] ?? 0;
      for (const shape of sub(buf, tt, 2)) {
        dims = sub(buf, shape, 1).map((d) => {
          const v = sub(buf, d, 1)[0];
          if (v) return v.value;
          const param = sub(buf, d, 2)[0];
          return param ? text(buf, param) : null;
        });
      }
    }
  }
  return { name, elemType, dims };
}

/**
 * What a bundle's .onnx bytes say: {metadata: {key: value}, inputs, outputs}. The graph's
 * initializers (the weights) are skipped over, never copied. Throws ProtoError.
 */
export function readOnnx(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const metadata = {};
  let graph = null;
  let irVersion = null;
  for (const f of fields(buf)) {
    if (f.field === 1 && f.wire === 0) irVersion = f.value;
    if (f.field === 14 && f.wire === 2) {
      // StringStringEntryProto {1: key, 2: value}
      const kv = fields(buf, f.start, f.end);
      const k = kv.find((g) => g.field === 1 && g.wire === 2);
      const v = kv.find((g) => g.field === 2 && g.wire === 2);
      if (k) metadata[text(buf, k)] = v ? text(buf, v) : "";
    }
    if (f.field === 7 && f.wire === 2) graph = f;
  }
  if (irVersion === null || graph === null) throw new ProtoError("no ir_version or no graph");
  const gfields = fields(buf, graph.start, graph.end);
  const initNames = new Set(gfields.filter((g) => g.field === 5 && g.wire === 2)
    .map((g) => sub(buf, g, 8).map((n) => text(buf, n))[0]));
  const inputs = gfields.filter((g) => g.field === 11 && g.wire === 2)
    .map((g) => valueInfo(buf, g)).filter((v) => !initNames.has(v.name));
  const outputs = gfields.filter((g) => g.field === 12 && g.wire === 2)
    .map((g) => valueInfo(buf, g));
  return { metadata, inputs, outputs };
}

// --- validation (plugin_api/manifest.py, Manifest.from_dict) -------------------------------
function check(ok, msg) {
  if (!ok) throw new BundleError(`bad bundle manifest: ${msg}; re-export the bundle`);
}
const isInt = (v) => typeof v === "number" && Number.isInteger(v);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
// Python's repr of the few JSON values a message shows: 'text', 12, None, [...]
const repr = (v) => (v === undefined || v === null ? "None"
  : typeof v === "string" ? `'${v}'` : JSON.stringify(v));

function parseVersion(v) {
  const m = /^([0-9]+)\.([0-9]+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function intField(d, key, lo, hi) {
  const v = d[key];
  check(isInt(v) && lo <= v && v <= hi, `${key} must be an integer in ${lo}..${hi}, got ${repr(v)}`);
  return v;
}

function vector(v, n, what) {
  check(Array.isArray(v) && v.length === n, `${what} must be a list of ${n} numbers`);
  check(v.every((x) => typeof x === "number"), `${what} must hold only numbers`);
  check(v.every(Number.isFinite), `${what} holds NaN or infinite values`);
  return Float64Array.from(v);
}

function factor(v, n, what) {
  check(Array.isArray(v) && v.length === n, `${what} must be a ${n}x${n} matrix`);
  const m = new Float64Array(n * n); // row-major: m[j * n + k] = L[j][k]
  v.forEach((row, j) => m.set(vector(row, n, what), j * n));
  for (let j = 0; j < n; j++) {
    for (let k = j + 1; k < n; k++) check(m[j * n + k] === 0, `${what} must be lower triangular`);
  }
  for (let j = 0; j < n; j++) {
    check(m[j * n + j] > 0, `${what} must have a positive diagonal (positive definite)`);
  }
  return m;
}

function classFromDict(c, latent, i) {
  check(isObject(c), `classes[${i}] must be an object`);
  const name = c.name;
  check(typeof name === "string" && name.length > 0 && name.length <= 200,
    `classes[${i}].name must be a non-empty string`);
  const q = `class ${repr(name)}`;
  const count = c.count ?? 0;
  check(isInt(count) && count >= 0, `${q}: count must be a non-negative integer`);
  const centroid = vector(c.centroid, latent, `${q} centroid`);
  const chol = factor(c.chol, latent, `${q} factor`);
  const comps = c.components ?? [];
  check(Array.isArray(comps), `${q}: components must be a list`);
  const components = comps.map((k, j) => {
    check(isObject(k), `${q} component ${j} must be an object`);
    check(typeof k.weight === "number" && Number.isFinite(k.weight) && k.weight > 0,
      `${q} component ${j}: weight must be a positive number`);
    return {
      weight: k.weight,
      centroid: vector(k.centroid, latent, `${q} component ${j} centroid`),
      chol: factor(k.chol, latent, `${q} component ${j} factor`),
    };
  });
  let exemplars = null;
  let scale = 0;
  let prototype = null;
  const ex = c.exemplars;
  if (ex !== undefined && ex !== null) {
    check(isObject(ex), `${q}: exemplars must be an object`);
    scale = ex.scale;
    check(typeof scale === "number" && Number.isFinite(scale) && scale >= 0 && scale <= 10,
      `${q}: exemplars.scale must be a number in 0..10`);
    const rows = ex.centroids;
    check(Array.isArray(rows) && rows.length > 0 && rows.length <= MAX_EXEMPLARS,
      `${q}: exemplars.centroids must be a list of 1 to ${MAX_EXEMPLARS} vectors`);
    exemplars = rows.map((r) => vector(r, latent, `${q} exemplar`));
    prototype = ex.prototype ?? null;
    check(prototype === null || (isInt(prototype) && prototype >= 0 && prototype < rows.length),
      `${q}: exemplars.prototype must be an index into its centroids`);
  }
  const anchor = exemplars !== null && prototype !== null ? exemplars[prototype] : centroid;
  return { name, count, centroid, chol, components, exemplars, exemplarScale: scale, prototype,
    anchor };
}

/** Validate a manifest (JSON text or a parsed object); BundleError names the field. */
export function parseManifest(json) {
  let d = json;
  if (typeof json === "string") {
    try {
      d = JSON.parse(json);
    } catch (e) {
      throw new BundleError(`bundle manifest is not valid JSON (${e.message}); ` +
        "re-export the bundle");
    }
  }
  check(isObject(d), "manifest must be a JSON object");
  check(d.format === FORMAT_NAME, `format is ${repr(d.format)}, not '${FORMAT_NAME}'`);
  const version = d.version;
  check(typeof version === "string" && parseVersion(version) !== null,
    `version ${repr(version)} is not of the form MAJOR.MINOR`);
  if (parseVersion(version)[0] > parseVersion(FORMAT_VERSION)[0]) {
    throw new BundleError(`bundle format version ${version} is newer than this runtime ` +
      `supports (${FORMAT_VERSION}); upgrade assetvae to load it`);
  }
  const imageSize = intField(d, "image_size", 1, MAX_IMAGE);
  const latentDim = intField(d, "latent_dim", 1, MAX_LATENT);
  const channels = intField(d, "channels", 1, 4);
  check(channels === 4, `channels is ${channels}; this runtime reads RGBA (4) bundles`);
  const output = d.output ?? "uint8_nhwc";
  check(OUTPUT_LAYOUTS.includes(output), `output layout ${repr(output)} is not one of ` +
    OUTPUT_LAYOUTS.join(", "));
  check(d.rng === SPEC_NAME, `RNG spec ${repr(d.rng)} is unknown to this runtime; ` +
    "upgrade assetvae");
  check(Array.isArray(d.classes) && d.classes.length > 0, "classes must be a non-empty list");
  const classes = d.classes.map((c, i) => classFromDict(c, latentDim, i));
  const names = classes.map((c) => c.name);
  check(new Set(names).size === names.length, "class names must be unique");
  for (const key of ["training", "export"]) check(isObject(d[key] ?? {}), `${key} must be an object`);
  const sha = d.graph_sha256 ?? null;
  check(sha === null || typeof sha === "string", "graph_sha256 must be a string");
  return { format: FORMAT_NAME, version, imageSize, latentDim, channels, output, rng: d.rng,
    classes, training: d.training ?? {}, export: d.export ?? {}, graphSha256: sha };
}

/** The manifest's shapes must agree with the graph's input and output (Python: check_graph). */
export function checkGraph(info, m, where) {
  const ins = info.inputs;
  const outs = info.outputs;
  const fail = (msg) => {
    throw new BundleError(`${where}: ${msg}`);
  };
  if (ins.length !== 1 || ins[0].name !== "z" || ins[0].dims?.length !== 2) {
    fail("graph input must be one tensor 'z' [N, latent]");
  }
  if (ins[0].dims[1] !== m.latentDim) {
    fail(`manifest says latent size ${m.latentDim} but the graph takes ${ins[0].dims[1]}; ` +
      "re-export the bundle");
  }
  if (ins[0].elemType !== 1) fail("graph input 'z' must be float32");
  if (!outs.length || outs[0].name !== "image" || outs[0].dims?.length !== 4) {
    fail("graph output must be 'image' with 4 dimensions");
  }
  const s = m.imageSize;
  const c = m.channels;
  const nhwc = m.output === "uint8_nhwc";
  const want = nhwc ? [s, s, c] : [c, s, s];
  const got = outs[0].dims.slice(1);
  if (got.some((v, i) => v !== want[i]) || outs[0].elemType !== (nhwc ? 2 : 1)) {
    fail(`manifest says ${m.output} [${want}] but the graph gives elem type ` +
      `${outs[0].elemType} [${got}]; re-export the bundle`);
  }
}

export async function sha256Hex(bytes) {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The validated manifest of a bundle: from its own metadata, else from the sidecar (its JSON
 * text or object, or null). A sidecar that is given must name this graph by its SHA-256.
 * `where` names the file in messages (`sidecarName`, the sidecar looked for). Throws
 * BundleError.
 */
export async function bundleManifest(bytes, sidecar = null, where = "bundle", sidecarName = null) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (buf.length === 0) throw new BundleError(`${where}: empty file, not an assetvae bundle; re-export it`);
  let info;
  try {
    info = readOnnx(buf);
  } catch (e) {
    if (!(e instanceof ProtoError)) throw e;
    throw new BundleError(`${where}: not a valid ONNX bundle (${e.message}); re-export it ` +
      "with assetvae export");
  }
  let m = null;
  const prefix = (e, w) => {
    if (e instanceof BundleError) throw new BundleError(`${w}: ${e.message}`);
    throw e;
  };
  if (sidecar !== null && sidecar !== undefined) {
    const side = `${where.replace(/\.onnx$/, "")}.json`;
    let sm;
    try {
      sm = parseManifest(sidecar);
    } catch (e) {
      prefix(e, side);
    }
    if (sm.graphSha256 !== (await sha256Hex(buf))) {
      throw new BundleError(`${side}: this manifest belongs to another graph (hash mismatch); ` +
        "keep each bundle with its own .json");
    }
    m = sm;
  }
  if (METADATA_KEY in info.metadata) {
    try {
      m = parseManifest(info.metadata[METADATA_KEY]);
    } catch (e) {
      prefix(e, where);
    }
  }
  if (m === null) {
    const side = sidecarName ? `no ${sidecarName} beside it` : "no sidecar .json given";
    throw new BundleError(`${where}: an ONNX file, but not an assetvae bundle (no ` +
      `'${METADATA_KEY}' metadata and ${side})`);
  }
  checkGraph(info, m, where);
  return m;
}

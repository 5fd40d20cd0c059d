// The sampling rules of plugin_api/sampling.py, operation for operation: float64 arithmetic
// in the same fixed order (L @ n summed over k = 0, 1, ... for each row), rounded to float32
// once at the end (Math.fround rounds to nearest even, as numpy's astype(float32) does).
// JavaScript never fuses a*b+c, so the latents equal Python's bit for bit.

import { cumulative, pick, uniformOf, variantState, STREAM_CHOICE } from "./seed_stream.js";
import { SamplingError } from "./manifest.js";

export const MAX_SPREAD = 10.0;

export function checkSpread(spread) {
  if (typeof spread !== "number") {
    throw new SamplingError(`spread must be a number, got ${typeof spread} ${spread}`);
  }
  if (!Number.isFinite(spread) || spread < 0 || spread > MAX_SPREAD) {
    throw new SamplingError(`spread ${spread} is out of range: use 0 (the class prototype) to ` +
      `${MAX_SPREAD}; 1 is the class's own variety`);
  }
  return spread;
}

/** (L @ n)[j] for one row n (Float32Array view), in float64, k in index order. */
function cholTimes(chol, d, noise, r, acc) {
  for (let j = 0; j < d; j++) {
    let a = 0.0;
    for (let k = 0; k < d; k++) a = a + noise[r * d + k] * chol[j * d + k];
    acc[j] = a;
  }
}

/** z = centroid + spread * (L @ n) for rows `rows` of noise [N, d], into out (Float32Array). */
export function latentSamples(centroid, chol, noise, d, spread, out, rows) {
  const acc = new Float64Array(d);
  for (const r of rows) {
    cholTimes(chol, d, noise, r, acc);
    for (let j = 0; j < d; j++) out[r * d + j] = centroid[j] + spread * acc[j];
  }
  return out;
}

/** z = p + spread * ((e - p) + scale * (L @ n)) per row, e the row's chosen exemplar. */
export function exemplarSamples(prototype, exemplars, pickOf, chol, noise, d, spread, scale, out) {
  const acc = new Float64Array(d);
  const n = noise.length / d;
  for (let r = 0; r < n; r++) {
    cholTimes(chol, d, noise, r, acc);
    const e = exemplars[pickOf[r]];
    for (let j = 0; j < d; j++) {
      out[r * d + j] = prototype[j] + spread * ((e[j] - prototype[j]) + scale * acc[j]);
    }
  }
  return out;
}

/** Interpolate two classes' anchors and factors: t=0 gives a, t=1 gives b. */
export function blendGaussians(cA, lA, cB, lB, t) {
  if (typeof t !== "number" || !Number.isFinite(t) || t < 0 || t > 1) {
    throw new SamplingError(`blend amount ${t} is out of range: use 0 to 1`);
  }
  const mixed = (a, b) => a.map((x, i) => (1 - t) * x + t * b[i]);
  return [mixed(cA, cB), mixed(lA, lB)];
}

/** Stream-1 choice (index 0) of each key, over the given weights. */
export function choices(seed, keys, weights) {
  const cum = cumulative(weights);
  return keys.map((key) => pick(cum, uniformOf(variantState(seed, key, STREAM_CHOICE), 0n)));
}

/**
 * The latents (Float32Array [keys.length * d]) of variants `keys` of class c, given their
 * normals: exemplars if the class has them, else sub-cluster components, else the class
 * Gaussian (Python: sampling.class_latents).
 */
export function classLatents(c, seed, keys, noise, d, spread) {
  const out = new Float32Array(keys.length * d);
  if (c.exemplars !== null) {
    const picks = choices(seed, keys, c.exemplars.map(() => 1.0));
    return exemplarSamples(c.anchor, c.exemplars, picks, c.chol, noise, d, spread,
      c.exemplarScale, out);
  }
  const all = keys.map((_, r) => r);
  if (!c.components.length) return latentSamples(c.centroid, c.chol, noise, d, spread, out, all);
  const picks = choices(seed, keys, c.components.map((k) => k.weight));
  c.components.forEach((comp, j) => {
    const rows = all.filter((r) => picks[r] === j);
    latentSamples(comp.centroid, comp.chol, noise, d, spread, out, rows);
  });
  return out;
}

// The JS runtime against the Python runtime on the same bundle: latents bit for bit, pixels
// within 1 level (onnxruntime-node), every class and sampling rule, and the same refusals.
// The cases come from tests/js/cases.py (run by tests/test_js.py); without
// ASSETVAE_JS_CASES=DIR these tests are skipped.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { BundleError, SamplingError, loadGenerator, parseManifest } from "../../plugin_api/js/node.js";

const dir = process.env.ASSETVAE_JS_CASES;
const skip = dir ? false : "set ASSETVAE_JS_CASES (python tests/js/cases.py BUNDLE DIR)";
const doc = dir ? JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) : null;
const keyOf = (c) => (c.key_type === "int" ? BigInt(c.key) : c.key);
const bitsOf = (z) => Array.from(new Uint32Array(z.buffer, z.byteOffset, z.length),
  (b) => b.toString(16).padStart(8, "0"));

function jsLatents(gen, c) {
  const opts = { seed: BigInt(c.seed), spread: c.spread, truncation: c.truncation };
  if (c.blend) return gen.blendLatents(c.blend.a, c.blend.b, c.blend.t, [keyOf(c)], opts);
  return gen.latents(c.cls, [keyOf(c)], opts);
}

test("latents equal Python's bit for bit on every case", { skip }, async (t) => {
  const gen = await loadGenerator(join(dir, doc.bundle));
  const rules = new Set();
  let exact = 0;
  for (const c of doc.cases) {
    assert.deepEqual(bitsOf(jsLatents(gen, c)), c.z_bits, JSON.stringify({ ...c, pixels: 0 }));
    exact++;
    const cls = c.blend ? null : gen.manifest.classes.find((k) => k.name === c.cls);
    if (cls) rules.add(cls.exemplars ? "exemplars" : cls.components.length ? "components" : "gaussian");
    else rules.add("blend");
    if (c.truncation !== null) rules.add("truncation");
  }
  assert.deepEqual([...rules].sort(),
    ["blend", "components", "exemplars", "gaussian", "truncation"]);
  const covered = new Set(doc.cases.filter((c) => !c.blend).map((c) => c.cls));
  assert.deepEqual([...covered].sort(), [...doc.classes].sort());
  t.diagnostic(`latents bit-exact: ${exact}/${doc.cases.length}`);
  await gen.release();
});

test("pixels agree with Python's within 1 level on every case (batched)", { skip }, async (t) => {
  const gen = await loadGenerator(join(dir, doc.bundle));
  const d = gen.latentDim;
  const z = new Float32Array(doc.cases.length * d);
  doc.cases.forEach((c, i) => z.set(jsLatents(gen, c), i * d));
  const sprites = await gen.decode(z);
  assert.equal(sprites.count, doc.cases.length);
  let maxDiff = 0;
  let differing = 0;
  doc.cases.forEach((c, i) => {
    const want = Buffer.from(c.pixels, "base64");
    const got = sprites.image(i).data;
    assert.equal(got.length, want.length);
    for (let p = 0; p < want.length; p++) {
      const diff = Math.abs(got[p] - want[p]);
      if (diff) differing++;
      if (diff > maxDiff) maxDiff = diff;
    }
  });
  t.diagnostic(`node pixels: max diff ${maxDiff}, ${differing} of ${z.length / d * gen.imageSize ** 2 * 4} values differ`);
  assert.ok(maxDiff <= 1, `max pixel difference ${maxDiff}`);
  // The same variant alone or inside a batch: the same pixels.
  const one = await gen.decode(z.slice(5 * d, 6 * d));
  assert.deepEqual(one.image(0).data, sprites.image(5).data);
  await gen.release();
});

test("variants, sample and blend are decode(latents)", { skip }, async () => {
  const gen = await loadGenerator(join(dir, doc.bundle));
  const [a, b] = gen.classes;
  const keys = [0, 1, "forest/oak/17", 2n ** 64n - 1n];
  const v = await gen.variants(a, keys, { seed: 7, spread: 0.6 });
  const z = gen.latents(a, keys, { seed: 7, spread: 0.6 });
  assert.deepEqual(v.data, (await gen.decode(z)).data);
  assert.equal(v.count, 4);
  assert.equal(v.width, gen.imageSize);
  const s = await gen.sample(a, 2, { seed: 7, spread: 0.6 });
  assert.deepEqual(s.data, v.data.subarray(0, s.data.length));
  const h = await gen.blend(a, b, 0, [0, 1], { seed: 3, spread: 0 });
  assert.deepEqual(h.image(0).data, (await gen.prototype(a)).image(0).data);
  await gen.release();
});

test("sampling errors are typed and clear", { skip }, async () => {
  const gen = await loadGenerator(join(dir, doc.bundle));
  const name = gen.classes[0];
  const bad = [
    [() => gen.latents(name.slice(0, -1) + "x", [0], { seed: 1 }), /unknown class .*did you mean/],
    [() => gen.latents("zzzzzzzz", [0], { seed: 1 }), /classes are:/],
    [() => gen.latents(name, [0], { seed: 1, spread: -1 }), /spread -1 is out of range/],
    [() => gen.latents(name, [0], { seed: 1, spread: NaN }), /spread/],
    [() => gen.latents(name, "abc", { seed: 1 }), /not a single string/],
    [() => gen.latents(name, [0], { seed: -1 }), /seed must be in/],
    [() => gen.latents(name, [0], {}), /seed/],
    [() => gen.latents(name, [1.5], { seed: 1 }), /key/],
    [() => gen.latents(name, [0], { seed: 1, truncation: 0 }), /truncation/],
    [() => gen.blendLatents(name, name, 2, [0], { seed: 1 }), /blend amount 2/],
  ];
  for (const [fn, re] of bad) assert.throws(fn, (e) => e instanceof SamplingError && re.test(e.message));
  await assert.rejects(gen.sample(name, -1), SamplingError);
  await assert.rejects(gen.decode(new Float32Array(gen.latentDim).fill(NaN)), /NaN/);
  await gen.release();
});

test("bad bundles are refused with Python's messages", { skip }, async (t) => {
  const python = JSON.parse(readFileSync(join(dir, "bad_bundles.json"), "utf8"));
  for (const [name, message] of Object.entries(python)) {
    const path = join(dir, name);
    if (!message) {
      const gen = await loadGenerator(path); // the sidecar-only bundle loads
      assert.equal(gen.manifest.graphSha256.length, 64);
      await gen.release();
      continue;
    }
    await assert.rejects(loadGenerator(path), (e) => {
      assert.ok(e instanceof BundleError, `${name}: ${e}`);
      if (name === "notonnx.avae.onnx") {
        assert.match(e.message, /: not a valid ONNX bundle \(/);
      } else assert.equal(e.message, message);
      return true;
    });
    t.diagnostic(`${name}: refused`);
  }
  await assert.rejects(loadGenerator(join(dir, "missing.avae.onnx")), /no such bundle file/);
  await assert.rejects(loadGenerator(dir), /is a folder/);
});

test("a sidecar of another graph is refused even beside an embedded manifest", { skip }, async () => {
  const side = readFileSync(join(dir, "other.avae.json"), "utf8");
  await assert.rejects(loadGenerator(join(dir, doc.bundle), { sidecar: side }),
    /belongs to another graph/);
  const own = readFileSync(join(dir, doc.bundle.replace(/\.onnx$/, ".json")), "utf8");
  const gen = await loadGenerator(join(dir, doc.bundle), { sidecar: own });
  await gen.release();
  assert.throws(() => parseManifest({ ...JSON.parse(own), version: "3.1" }),
    /newer than this runtime supports/);
});

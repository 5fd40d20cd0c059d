// The JS seed stream against every shipped vector (plugin_api/rng_vectors.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import * as ss from "../../plugin_api/js/seed_stream.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../plugin_api/rng_vectors.json", import.meta.url), "utf8"));
const keyOf = (c) => (c.key_type === "int" ? BigInt(c.key) : c.key);
const hex64 = (v) => v.toString(16).padStart(16, "0");
const f64bits = (x) => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  return hex64(dv.getBigUint64(0));
};
const f32bits = (arr) => Array.from(new Uint32Array(Float32Array.from(arr).buffer),
  (b) => b.toString(16).padStart(8, "0"));

test("spec name", () => assert.equal(vectors.spec, ss.SPEC_NAME));

test("string keys are hashed over the shipped UTF-8 bytes", () => {
  for (const c of vectors.key_hash.filter((c) => c.key_type === "str")) {
    assert.equal(Buffer.from(c.key, "utf8").toString("hex"), c.key_utf8_hex);
  }
});

for (const kind of ["key_hash", "state", "uniform", "choice", "normals"]) {
  test(`every ${kind} vector (${vectors[kind].length})`, () => {
    for (const c of vectors[kind]) {
      const key = keyOf(c);
      if (kind === "key_hash") assert.equal(hex64(ss.keyHash(key)), c.hash, JSON.stringify(c));
      if (kind === "state") {
        assert.equal(hex64(ss.variantState(c.seed, key, c.stream)), c.state, JSON.stringify(c));
      }
      if (kind === "uniform") {
        assert.equal(f64bits(ss.uniform(c.seed, key, c.stream, c.index)), c.bits);
      }
      if (kind === "choice") {
        assert.equal(ss.choice(c.seed, key, c.weights, c.index), c.result, JSON.stringify(c));
      }
      if (kind === "normals") {
        const st = ss.variantState(c.seed, key, c.stream);
        const got = ss.normalsOf(st, c.dim, c.truncation);
        assert.deepEqual(f32bits(got), c.bits, JSON.stringify([c.seed, c.key, c.dim]));
        if (c.stream === "0" && (c.truncation === null || c.truncation >= ss.MIN_TRUNCATION)) {
          const batch = ss.normalsBatch(c.seed, [key, "other", key], c.dim, c.truncation);
          assert.deepEqual(f32bits(batch.subarray(2 * c.dim)), c.bits);
        }
      }
    }
  });
}

test("numbers, BigInts and decimal strings name the same seed; 5 and '5' differ", () => {
  const a = ss.normals(42, 7, 8);
  assert.deepEqual(ss.normals(42n, 7n, 8), a);
  assert.deepEqual(ss.normals("42", 7, 8), a);
  assert.notDeepEqual(ss.normals(42, "7", 8), a);
});

test("a shorter dim is a prefix of a longer one", () => {
  assert.deepEqual(ss.normals(3, "k", 5), ss.normals(3, "k", 40).subarray(0, 5));
});

test("the portable log stays within 1 ulp of Math.log", () => {
  let same = 0;
  const n = 20000;
  for (let i = 1; i <= n; i++) {
    const x = i / (n + 1);
    const a = ss.portableLog(x);
    const b = Math.log(x);
    if (a === b) same++;
    else assert.ok(Math.abs(a - b) <= Math.abs(b) * 2 ** -52, `${x}: ${a} vs ${b}`);
  }
  assert.ok(same > 0.8 * n, `${same} of ${n} identical`);
});

test("bad arguments are refused with clear errors", () => {
  assert.throws(() => ss.normals(-1, 0, 4), /seed must be in \[0, 2\*\*64\)/);
  assert.throws(() => ss.normals(2n ** 64n, 0, 4), RangeError);
  assert.throws(() => ss.normals(2 ** 60, 0, 4), /BigInt/);
  assert.throws(() => ss.normals(0, 1.5, 4), /key/);
  assert.throws(() => ss.normals(0, null, 4), TypeError);
  assert.throws(() => ss.normals(0, "\ud800", 4), /not valid Unicode/);
  assert.throws(() => ss.normals(0, 0, 4, 0.01), /truncation/);
  assert.throws(() => ss.normals(0, 0, -1), /dim/);
  assert.throws(() => ss.choice(0, 0, [0, 0]), /all be zero/);
  assert.throws(() => ss.choice(0, 0, [1, -1]), />= 0/);
});

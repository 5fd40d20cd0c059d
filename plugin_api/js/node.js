// Node: open a bundle from a path with onnxruntime-node, reading NAME.avae.json beside it
// when the graph carries no manifest (as the Python runtime does).
//
//   import { loadGenerator } from "./plugin_api/js/node.js";
//   const gen = await loadGenerator("plants.avae.onnx");

import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";

import { Generator } from "./generator.js";
import { BundleError, METADATA_KEY, readOnnx } from "./manifest.js";

export * from "./index.js";

export function sidecarPath(bundle) {
  return bundle.replace(/\.onnx$/, "") + ".json";
}

/** Generator.load for a file path; options as there (`ort` defaults to onnxruntime-node). */
export async function loadGenerator(path, options = {}) {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new BundleError(`${path}: no such bundle file`);
  }
  if (info.isDirectory()) throw new BundleError(`${path}: is a folder, not a bundle file`);
  const bytes = new Uint8Array(await readFile(path));
  let { sidecar, ort } = options;
  if (sidecar === undefined) {
    let hasMeta = true;
    try {
      hasMeta = METADATA_KEY in readOnnx(bytes).metadata;
    } catch {
      // not ONNX at all: Generator.load says so
    }
    sidecar = hasMeta ? null : await readFile(sidecarPath(path), "utf8").catch(() => null);
  }
  ort = ort ?? (await import("onnxruntime-node")).default;
  const sidecarName = basename(sidecarPath(path));
  return Generator.load(bytes, { ...options, ort, sidecar, sidecarName, name: options.name ?? path });
}


// assetvae in JavaScript: an ES module with no build step, for browsers and node.
// The seed stream, the manifest reader and the sampling rules are pure JavaScript; decoding
// uses the ONNX Runtime module the caller passes in (onnxruntime-web or onnxruntime-node).
// In node, node.js beside this file loads a bundle from a path with onnxruntime-node.

export { Generator, Sprites, MAX_VARIANTS, DECODE_CHUNK } from "./generator.js";
export {
  AssetVAEError, BundleError, SamplingError, FORMAT_VERSION, METADATA_KEY, bundleManifest,
  parseManifest, readOnnx,
} from "./manifest.js";
export { MAX_SPREAD } from "./sampling.js";
export * as rng from "./seed_stream.js";

import { loadGenerator } from "../../plugin_api/js/node.js";
const gen = await loadGenerator(process.argv[2]);
const keys = Array.from({ length: 256 }, (_, i) => `forest/k/${i}`);
for (let r = 0; r < 2; r++) {
  let t = performance.now();
  const z = gen.latents(gen.classes[0], keys, { seed: 7, spread: 0.8 });
  const tl = performance.now() - t;
  t = performance.now();
  await gen.decode(z);
  const td = performance.now() - t;
  console.log(`latents ${tl.toFixed(1)} ms, decode ${td.toFixed(1)} ms for 256`);
}

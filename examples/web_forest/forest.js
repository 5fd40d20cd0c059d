// A Phaser scene that grows a forest of unique props from a world seed at load time, with the
// assetvae JS runtime (plugin_api/js) decoding in the browser (onnxruntime-web, WebAssembly).
//
// The same world as examples/pygame_forest.py: prop i uses the key "forest/layout/<i>"; its
// class is the seed stream's choice (stream 1, index 0) over the classes' weights, its x,
// depth, size jitter and mirroring are the stream-1 uniforms at indices 1..4; its sprite is
// the variant "forest/<class>/<i>" at spread 0.8. So the same props appear in both, to the
// bit in the latents and within one level in the pixels.
//
// Served by serve.py beside this file; ?seed=N&count=N pick another world (&pause=MS slows
// the loading down, to watch the progress bar).

import * as ort from "/ort/ort.wasm.min.mjs";
import { Generator, rng } from "/js/index.js";

const WIDTH = 960;
const HEIGHT = 540;
const HORIZON = 200;
const SKY_TOP = [92, 148, 214];
const SKY_HORIZON = [206, 226, 238];
const GRASS_FAR = [122, 162, 88];
const GRASS_NEAR = [62, 122, 48];
const FOG = [190, 210, 214];
const CHUNK = 16;
const TUFTS = 900;
// What the game knows about its props: relative height and how common each is (as pygame's).
const PROPS = { pine: [1.0, 3], broadleaf: [1.0, 3], palm: [0.95, 1], cactus: [0.6, 1],
  bush: [0.5, 2], fern: [0.45, 2], flower: [0.32, 2], mushroom: [0.26, 1] };
const DEFAULT_PROP = [0.8, 1];
const STREAM = rng.STREAM_CHOICE;

const params = new URLSearchParams(location.search);
const SEED = BigInt(params.get("seed") ?? "7");
const COUNT = Number(params.get("count") ?? "240");
const SPREAD = Number(params.get("spread") ?? "0.8");
const PAUSE_MS = Number(params.get("pause") ?? "0"); // per chunk: to watch the progress bar

const forest = { done: false, seed: String(SEED), count: COUNT, progress: [0, COUNT], props: [] };
window.forest = forest; // state for tests and the curious

// --- the world: a pure function of (bundle, seed, count) ------------------------------------
function layout(seed, count, classes) {
  const weights = classes.map((c) => (PROPS[c] ?? DEFAULT_PROP)[1]);
  return Array.from({ length: count }, (_, i) => {
    const key = `forest/layout/${i}`;
    const u = [1n, 2n, 3n, 4n].map((index) => rng.uniform(seed, key, STREAM, index));
    const depth = u[1] ** 1.5; // 0 = at the horizon, 1 = at the bottom edge
    return { i, cls: classes[rng.choice(seed, key, weights)], x: -24 + u[0] * (WIDTH + 48),
      depth, size: 0.85 + 0.3 * u[2], flip: u[3] < 0.5 };
  });
}

const mixRgb = (a, b, t) => a.map((v, k) => (1 - t) * v + t * b[k]);
const css = (c) => `rgb(${c.map((v) => Math.round(v)).join(",")})`;

function smooth(f) {
  return f * f * (3 - 2 * f);
}

function background(seed) {
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = HEIGHT;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(WIDTH, HEIGHT);
  const px = img.data;
  const phases = Array.from({ length: 6 }, (_, i) => 2 * Math.PI
    * rng.uniform(seed, "forest/hills", STREAM, BigInt(i)));
  const hills = [[HORIZON - 46, 22, [150, 178, 190]], [HORIZON - 22, 16, [128, 164, 142]]];
  const tile = Array.from({ length: 64 * 64 }, (_, i) => rng.uniform(seed, `forest/meadow/${i}`));
  const at = (u, v) => {
    const u0 = Math.floor(u);
    const v0 = Math.floor(v);
    const fu = smooth(u - u0);
    const fv = smooth(v - v0);
    const x0 = ((u0 % 64) + 64) % 64;
    const y0 = ((v0 % 64) + 64) % 64;
    const x1 = (x0 + 1) % 64;
    const y1 = (y0 + 1) % 64;
    const top = tile[y0 * 64 + x0] * (1 - fu) + tile[y0 * 64 + x1] * fu;
    const bottom = tile[y1 * 64 + x0] * (1 - fu) + tile[y1 * 64 + x1] * fu;
    return top * (1 - fv) + bottom * fv;
  };
  for (let y = 0; y < HEIGHT; y++) {
    const sky = mixRgb(SKY_TOP, SKY_HORIZON, Math.min(1, y / HORIZON));
    const d = Math.min(1, Math.max(0, (y - HORIZON) / (HEIGHT - HORIZON)));
    const grass = mixRgb(GRASS_FAR, GRASS_NEAR, d);
    const dist = 340 / (Math.max(y - HORIZON, 0) + 12);
    for (let x = 0; x < WIDTH; x++) {
      let c = sky;
      hills.forEach(([base, amp, col], level) => {
        const ph = phases.slice(3 * level, 3 * level + 3);
        const ridge = base - amp * (Math.sin(x / 97 + ph[0]) + 0.6 * Math.sin(x / 41 + ph[1])
          + 0.3 * Math.sin(x / 17 + ph[2])) / 1.9;
        if (y >= ridge && y < HORIZON) c = col;
      });
      if (y >= HORIZON) {
        const gu = ((x - WIDTH / 2) * dist) / 40;
        const gv = dist * 3;
        const mottle = 0.65 * at(gu, gv) + 0.35 * at(3.1 * gu + 17, 3.1 * gv + 5);
        c = grass.map((v) => v * (0.9 + 0.2 * mottle));
      }
      const o = (y * WIDTH + x) * 4;
      px[o] = c[0];
      px[o + 1] = c[1];
      px[o + 2] = c[2];
      px[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  // Blades of grass, longer nearer the viewer, back to front.
  const keys = Array.from({ length: TUFTS }, (_, i) => `forest/tuft/${i}`);
  const tufts = keys.map((key) => [0n, 1n, 2n, 3n].map((k) => rng.uniform(seed, key, STREAM, k)));
  const order = tufts.map((_, i) => i).sort((a, b) => tufts[a][1] - tufts[b][1] || a - b);
  for (const i of order) {
    const u = tufts[i];
    const depth = u[1] ** 1.3;
    const x = u[0] * WIDTH;
    const y = HORIZON + 8 + depth * (HEIGHT - HORIZON - 4);
    const length = 2 + 9 * depth;
    const shade = 0.75 + 0.4 * u[2];
    ctx.strokeStyle = css([70, 128, 50].map((v) => Math.min(255, Math.trunc(v * shade))));
    ctx.lineWidth = depth < 0.6 ? 1 : 2;
    for (const lean of [-0.5, 0.1, 0.6]) {
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(x + lean * length * (0.6 + 0.5 * u[3]), y - length);
      ctx.stroke();
    }
  }
  return canvas;
}

function feet(rgba, size) {
  for (let y = size - 1; y >= 0; y--) {
    for (let x = 0; x < size; x++) if (rgba[(y * size + x) * 4 + 3] > 32) return y;
  }
  return size - 1;
}

function propCanvas(rgba, size, fog, flip) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const img = new ImageData(size, size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const src = (y * size + (flip ? size - 1 - x : x)) * 4;
      const dst = (y * size + x) * 4;
      for (let k = 0; k < 3; k++) img.data[dst + k] = Math.round(rgba[src + k] * (1 - fog) + FOG[k] * fog);
      img.data[dst + 3] = rgba[src + 3];
    }
  }
  canvas.getContext("2d").putImageData(img, 0, 0);
  return canvas;
}

function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// --- the Phaser scene ------------------------------------------------------------------------
class ForestScene extends Phaser.Scene {
  constructor(config) {
    super("forest");
    this.config = config;
  }

  preload() {
    const atlas = this.config.atlas;
    if (atlas) this.load.atlas("baked", atlas.png, atlas.json); // TexturePacker JSON (Hash)
  }

  create() {
    this.bar = this.add.graphics();
    this.label = this.add.text(WIDTH / 2, HEIGHT / 2 - 36, `Growing the forest (seed ${SEED})`,
      { fontFamily: "sans-serif", fontSize: "22px", color: "#e0ecdc" }).setOrigin(0.5);
    this.count = this.add.text(WIDTH / 2, HEIGHT / 2 + 40, "", { fontFamily: "sans-serif",
      fontSize: "16px", color: "#b4c4b0" }).setOrigin(0.5);
    this.drawBar(0, COUNT);
    this.grow().catch((e) => {
      document.getElementById("error").textContent = `${e.name}: ${e.message}`;
      forest.error = e.message;
    });
  }

  drawBar(done, total) {
    const g = this.bar;
    const w = 480;
    const x = (WIDTH - w) / 2;
    const y = HEIGHT / 2 - 8;
    g.clear();
    g.fillStyle(0x18221e).fillRect(0, 0, WIDTH, HEIGHT);
    g.fillStyle(0x38483c).fillRoundedRect(x, y, w, 24, 6);
    const fill = total ? Math.floor((w * done) / total) : w;
    if (fill) g.fillStyle(0x78c460).fillRoundedRect(x, y, Math.max(fill, 12), 24, 6);
    g.lineStyle(2, 0xbed6b4).strokeRoundedRect(x, y, w, 24, 6);
    this.count.setText(`${done} / ${total}`);
    forest.progress = [done, total];
  }

  async grow() {
    const t0 = performance.now();
    ort.env.wasm.wasmPaths = "/ort/";
    // Threads need cross-origin isolation (serve.py sends the headers for it).
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    const gen = await Generator.load(this.config.bundle, { ort });
    const world = layout(SEED, COUNT, gen.classes);
    const size = gen.imageSize;
    const sprites = new Array(COUNT);
    let done = 0;
    for (const name of gen.classes) {
      const mine = world.filter((p) => p.cls === name);
      for (let k = 0; k < mine.length; k += CHUNK) {
        const part = mine.slice(k, k + CHUNK);
        const out = await gen.variants(name, part.map((p) => `forest/${name}/${p.i}`),
          { seed: SEED, spread: SPREAD });
        part.forEach((p, j) => { sprites[p.i] = out.image(j).data; });
        done += part.length;
        this.drawBar(done, COUNT);
        await new Promise((r) => setTimeout(() => requestAnimationFrame(r), PAUSE_MS)); // show it
      }
    }
    forest.generateMs = performance.now() - t0;
    this.compose(world, sprites, size, gen.classes);
    forest.sprite = (i) => toBase64(sprites[i]);
    forest.classes = gen.classes;
    forest.imageSize = size;
    forest.totalMs = performance.now() - t0;
    forest.done = true;
    document.body.dataset.done = "1";
  }

  compose(world, sprites, size, classes) {
    this.bar.destroy();
    this.label.destroy();
    this.count.destroy();
    this.textures.addCanvas("background", background(SEED));
    this.add.image(0, 0, "background").setOrigin(0, 0);
    const order = world.map((p) => p.i);
    const groundY = (p) => HORIZON + 6 + p.depth * (HEIGHT + 30 - HORIZON);
    order.sort((a, b) => groundY(world[a]) - groundY(world[b]) || a - b); // back to front
    for (const i of order) {
      const p = world[i];
      const kind = (PROPS[p.cls] ?? DEFAULT_PROP)[0];
      const height = (40 + 130 * p.depth) * p.size * kind;
      const fog = (1 - p.depth) ** 3 * 0.45;
      const scale = height / size;
      const w = Math.max(1, Math.round(size * scale));
      const foot = (feet(sprites[i], size) + 1) * scale;
      const y = groundY(p);
      const sw = Math.max(4, Math.trunc(w * 0.55));
      const sh = Math.max(2, Math.trunc(w * 0.12));
      const shadow = this.add.graphics();
      shadow.fillStyle(0x14280f, 90 / 255).fillEllipse(Math.trunc(p.x), Math.trunc(y), sw, sh);
      this.textures.addCanvas(`prop-${i}`, propCanvas(sprites[i], size, fog, p.flip));
      this.add.image(Math.round(p.x - w / 2), Math.round(y - foot), `prop-${i}`)
        .setOrigin(0, 0).setDisplaySize(w, w);
      forest.props[i] = { i, cls: p.cls, key: `forest/${p.cls}/${i}`, x: p.x, y, w };
    }
    this.add.text(12, 10, `seed ${SEED}  -  ${COUNT} props  -  ${classes.length} classes`,
      { fontFamily: "sans-serif", fontSize: "18px", color: "#ffffff" });
    if (this.config.atlas) this.shelf();
  }

  shelf() {
    // Frames of the baked atlas, as Phaser's TexturePacker loader parsed them, at scale 1.
    const tex = this.textures.get("baked");
    const names = tex.getFrameNames().sort().slice(0, 8);
    const frames = names.map((n) => tex.get(n));
    const gap = 6;
    const w = frames.reduce((s, f) => s + f.realWidth + gap, gap);
    const h = Math.max(...frames.map((f) => f.realHeight)) + 2 * gap + 18;
    const x0 = WIDTH - w - 10;
    const y0 = 10;
    this.add.graphics().fillStyle(0x1e2a22).fillRect(x0, y0, w, h);
    this.add.text(x0 + gap, y0 + 3, "baked atlas (Phaser load.atlas)",
      { fontFamily: "sans-serif", fontSize: "12px", color: "#cfe0c8" });
    let x = x0 + gap;
    forest.shelf = [];
    for (const [k, f] of frames.entries()) {
      const y = y0 + 18 + gap;
      this.add.image(x, y, "baked", names[k]).setOrigin(0, 0);
      forest.shelf.push({ name: names[k], x, y, w: f.realWidth, h: f.realHeight });
      x += f.realWidth + gap;
    }
    forest.shelfBackground = [0x1e, 0x2a, 0x22];
    forest.bakedFrames = tex.getFrameNames().sort();
  }
}

async function main() {
  const config = await (await fetch("/config.json")).json();
  if (typeof WebAssembly !== "object") throw new Error("this browser has no WebAssembly");
  new Phaser.Game({
    type: Phaser.CANVAS, // the same pixels on every machine, no GPU needed
    width: WIDTH,
    height: HEIGHT,
    parent: "game",
    backgroundColor: "#182018",
    banner: false,
    audio: { noAudio: true },
    scene: new ForestScene(config),
  });
}

main().catch((e) => {
  document.getElementById("error").textContent = `${e.name}: ${e.message}`;
  forest.error = e.message;
});

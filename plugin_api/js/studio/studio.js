// The studio page: the JS runtime decoding a bundle live with onnxruntime-web (WebAssembly).
// Served by `assetvae studio BUNDLE` (assetvae/studio.py), which also bakes atlases.

const $ = (id) => document.getElementById(id);
const CELL_PX = 128; // a grid cell's side on screen; sprites scale by a whole factor

const studio = { renders: 0, gen: null, sprites: null, shown: null, error: null };
window.studio = studio; // for tests and the curious: state of the last render

function fail(title, detail) {
  studio.error = `${title}\n${detail}`;
  const box = $("message");
  box.textContent = studio.error;
  box.hidden = false;
  $("bundle-info").textContent = "";
  document.body.dataset.state = "error";
}

function readControls() {
  const text = $("seed").value.trim();
  if (!/^[0-9]+$/.test(text) || BigInt(text) >= 2n ** 64n) {
    throw new Error(`seed must be a whole number from 0 to 2^64-1, not "${text}"`);
  }
  const first = Number($("first-key").value);
  if (!Number.isSafeInteger(first) || first < 0) throw new Error("first key must be a whole number >= 0");
  const partner = $("partner").value;
  return {
    cls: $("cls").value,
    spread: Number($("spread").value),
    seed: BigInt(text),
    truncation: $("trunc-on").checked ? Number($("truncation").value) : null,
    partner: partner || null,
    t: Number($("t").value),
    first,
    count: Number($("count").value),
  };
}

function label(s) {
  return s.partner ? `${s.cls}~${s.partner} @ t=${s.t}` : s.cls;
}

function drawSprite(canvas, sprite) {
  canvas.width = sprite.width;
  canvas.height = sprite.height;
  canvas.getContext("2d").putImageData(new ImageData(sprite.data, sprite.width, sprite.height), 0, 0);
}

let pending = false;
let running = false;

async function render() {
  if (running) {
    pending = true; // the controls moved during a decode: render once more afterwards
    return;
  }
  running = true;
  try {
    do {
      pending = false;
      await renderOnce();
    } while (pending);
  } finally {
    running = false;
  }
}

async function renderOnce() {
  const gen = studio.gen;
  let s;
  try {
    s = readControls();
  } catch (e) {
    $("status").textContent = e.message;
    $("status").className = "error";
    return;
  }
  $("spread-out").textContent = s.spread.toFixed(2);
  $("truncation-out").textContent = s.truncation === null ? "off" : s.truncation.toFixed(1);
  $("t-out").textContent = s.t.toFixed(2);
  $("t").disabled = !s.partner;
  $("truncation").disabled = s.truncation === null;
  const keys = Array.from({ length: s.count }, (_, i) => s.first + i);
  const opts = { seed: s.seed, spread: s.spread, truncation: s.truncation };
  const t0 = performance.now();
  let sprites;
  try {
    sprites = s.partner ? await gen.blend(s.cls, s.partner, s.t, keys, opts)
      : await gen.variants(s.cls, keys, opts);
  } catch (e) {
    $("status").textContent = `${e.name}: ${e.message}`;
    $("status").className = "error";
    return;
  }
  const ms = performance.now() - t0;
  const grid = $("grid");
  const scale = Math.max(1, Math.floor(CELL_PX / gen.imageSize));
  while (grid.children.length > keys.length) grid.lastChild.remove();
  keys.forEach((key, i) => {
    let cell = grid.children[i];
    if (!cell) {
      cell = document.createElement("div");
      cell.className = "cell";
      cell.append(document.createElement("canvas"), document.createElement("span"));
      cell.addEventListener("click", () => select(Number(cell.dataset.index)));
      grid.append(cell);
    }
    cell.dataset.index = String(i);
    cell.dataset.key = String(key);
    const canvas = cell.firstChild;
    drawSprite(canvas, sprites.image(i));
    canvas.style.width = canvas.style.height = `${gen.imageSize * scale}px`;
    cell.lastChild.textContent = `key ${key}`;
  });
  studio.sprites = sprites;
  studio.shown = { ...s, seed: String(s.seed), keys, scale };
  studio.renders += 1;
  grid.dataset.shown = JSON.stringify(studio.shown);
  document.body.dataset.renders = String(studio.renders);
  $("status").className = "";
  $("status").textContent = `${label(s)}: ${keys.length} variants decoded in ${ms.toFixed(0)} ms ` +
    `(WebAssembly, ${studio.threads} thread${studio.threads === 1 ? "" : "s"})`;
  if (studio.selected !== undefined && studio.selected < keys.length) select(studio.selected);
}

function snippets(s, key, bundle) {
  const q = JSON.stringify;
  const pyOpts = [`seed=${s.seed}`, `spread=${s.spread}`];
  const jsOpts = [`seed: ${s.seed}n`, `spread: ${s.spread}`];
  if (s.truncation !== null) {
    pyOpts.push(`truncation=${s.truncation}`);
    jsOpts.push(`truncation: ${s.truncation}`);
  }
  const pyCall = s.partner ? `gen.blend(${q(s.cls)}, ${q(s.partner)}, ${s.t}, [${key}], ${pyOpts.join(", ")})`
    : `gen.variants(${q(s.cls)}, [${key}], ${pyOpts.join(", ")})`;
  const jsCall = s.partner
    ? `gen.blend(${q(s.cls)}, ${q(s.partner)}, ${s.t}, [${key}], { ${jsOpts.join(", ")} })`
    : `gen.variants(${q(s.cls)}, [${key}], { ${jsOpts.join(", ")} })`;
  const py = `from assetvae.plugin_api import Generator\n\n` +
    `with Generator.load(${q(bundle)}) as gen:\n` +
    `    sprite = ${pyCall}[0]  # uint8 [H, W, 4] RGBA\n`;
  const js = `import * as ort from "onnxruntime-web";\n` +
    `import { Generator } from "./plugin_api/js/index.js";\n\n` +
    `const gen = await Generator.load(${q(bundle)}, { ort });\n` +
    `const sprite = (await ${jsCall}).image(0);\n` +
    `ctx.putImageData(new ImageData(sprite.data, sprite.width, sprite.height), 0, 0);\n`;
  return { py, js };
}

function select(i) {
  const s = studio.shown;
  if (!s || i >= s.keys.length) return;
  studio.selected = i;
  for (const cell of $("grid").children) cell.classList.toggle("selected", cell.dataset.index === String(i));
  const key = s.keys[i];
  $("detail").hidden = false;
  $("detail-title").textContent = `${label(s)}, key ${key}`;
  const canvas = $("detail-canvas");
  drawSprite(canvas, studio.sprites.image(i));
  canvas.style.width = canvas.style.height = `${studio.gen.imageSize * s.scale * 2}px`;
  const facts = { seed: s.seed, key, class: s.cls, spread: s.spread,
    truncation: s.truncation ?? "none" };
  if (s.partner) Object.assign(facts, { "blend with": s.partner, t: s.t });
  $("detail-facts").replaceChildren(...Object.entries(facts).flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = String(v);
    return [dt, dd];
  }));
  const { py, js } = snippets(s, key, studio.info.bundle);
  $("snippet-py").textContent = py;
  $("snippet-js").textContent = js;
}

async function bake() {
  let s;
  try {
    s = readControls();
  } catch (e) {
    $("status").textContent = e.message;
    return;
  }
  const body = { seed: String(s.seed), first_key: s.first, n: s.count, spread: s.spread,
    truncation: s.truncation };
  if (s.partner) body.blend = { a: s.cls, b: s.partner, t: s.t };
  else body.cls = s.cls;
  $("status").textContent = "baking…";
  const res = await fetch("/api/bake", { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" } });
  const doc = await res.json();
  if (!res.ok) {
    $("status").textContent = `bake refused: ${doc.error}`;
    $("status").className = "error";
    return;
  }
  studio.lastBake = doc;
  $("status").className = "";
  $("status").textContent = `baked ${doc.frames} frames: ${doc.paths.join("  ")}`;
}

async function main() {
  document.body.dataset.state = "loading";
  if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
    fail("This browser has no WebAssembly (or it is turned off).",
      "The studio decodes sprites with onnxruntime-web's WebAssembly build. Use a current " +
      "Chrome, Edge, Firefox or Safari, with WebAssembly enabled (some locked-down or " +
      "'super-safe' browsing modes disable it).");
    return;
  }
  const info = await (await fetch("/api/info")).json();
  studio.info = info;
  const [ort, runtime] = await Promise.all([import("/ort/ort.wasm.min.mjs"), import("/js/index.js")]);
  ort.env.wasm.wasmPaths = "/ort/";
  studio.threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.numThreads = studio.threads;
  try {
    studio.gen = await runtime.Generator.load(info.url, { ort, name: info.bundle });
  } catch (e) {
    const newer = /newer than this runtime/.test(e.message);
    fail(newer ? "This bundle was made by a newer assetvae." : "This bundle cannot be opened.",
      `${e.message}${newer ? "\nUpgrade assetvae (pip install -U assetvae) and restart the studio." : ""}`);
    return;
  }
  const gen = studio.gen;
  const m = gen.manifest;
  $("bundle-info").textContent = `${info.bundle}: format ${m.version}, ${m.imageSize}×${m.imageSize} RGBA, ` +
    `latent ${m.latentDim}, ${gen.classes.length} classes` + (info.python_error ? " (Python refused it!)" : "");
  for (const name of gen.classes) {
    $("cls").append(new Option(name, name));
    $("partner").append(new Option(name, name));
  }
  $("app").hidden = false;
  for (const id of ["cls", "spread", "seed", "trunc-on", "truncation", "partner", "t", "first-key", "count"]) {
    $(id).addEventListener("input", render);
    $(id).addEventListener("change", render);
  }
  $("reroll").addEventListener("click", () => {
    try {
      $("seed").value = String((BigInt($("seed").value.trim()) + 1n) % 2n ** 64n);
    } catch {
      $("seed").value = "0";
    }
    render();
  });
  $("bake").addEventListener("click", bake);
  for (const b of document.querySelectorAll("button.copy")) {
    b.addEventListener("click", async () => {
      await navigator.clipboard.writeText($(b.dataset.for).textContent);
      b.textContent = "copied";
      setTimeout(() => { b.textContent = "copy"; }, 1200);
    });
  }
  document.body.dataset.state = "ready";
  await render();
}

main().catch((e) => fail("The studio failed to start.", `${e.name}: ${e.message}`));

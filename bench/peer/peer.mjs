#!/usr/bin/env node
// Benchmark peer for openlfr: the same two models run by TFLite's own
// interpreter (@tensorflow/tfjs-tflite@0.0.1-alpha.10, TFLite + XNNPACK in
// WebAssembly SIMD) in Node. Prints ONE JSON object on stdout; progress and
// the interpreter's log lines go to stderr.
//
// Install once:  sh scripts/oracle/install.sh
// Run:           node bench/peer/peer.mjs [--models DIR] [--runs N] [--warmup N]
//                     [--threads 1|2] [--rgb FILE --width W --height H]
//
//   --models DIR   models directory (default $LFR_MODELS, else <repo>/models)
//   --runs N       timed iterations per measurement (default 50); medians
//   --warmup N     untimed iterations first (default 10)
//   --threads T    1 or 2; default: both (1 first, then 2)
//   --rgb FILE     raw interleaved 8-bit RGB frame, row-major, no header,
//                  exactly W*H*3 bytes (default: a deterministic synthetic
//                  640x480 frame, see syntheticFrame())
//
// What is timed (performance.now(), median over --runs):
//   embed:   MobileFaceNet Infer() on its fixed batch of 2 faces (input filled
//            once, LCG seed 12345 as in oracle.mjs); per face = per call / 2.
//   detect:  BlazeFace full range on one frame: JS letterbox + bilinear
//            resize of the WxH RGB frame into 192x192, normalise to [-1,1]
//            (x/127.5 - 1, padding = black = -1) written straight into the
//            interpreter's input tensor, then Infer().
//            detect_ms_per_frame = median(preprocess + infer);
//            detect_infer_ms_per_frame = median(infer) alone;
//            detect_with_decode_ms_per_frame adds a JS decode (2304 anchors,
//            sigmoid, min score 0.6, weighted NMS at IoU 0.3, MediaPipe's
//            full-range settings) for comparison with a C pipeline that
//            includes decoding.
// Threads: 1 thread uses wasm/tflite_web_api_cc_simd (the build MODELS.md
// measured); 2 threads use wasm/tflite_web_api_cc_simd_threaded with a Web
// Worker shim over node:worker_threads (scripts/oracle/tflite.mjs).
//
// Output keys: *_t1 and *_t2 per thread count (null + t2_reason when 2
// threads could not run); the unsuffixed keys repeat the first thread count
// measured (1 unless --threads 2).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRunner, modelsDir, terminateWorkers, TFLITE_PKG_VERSION }
  from '../../scripts/oracle/tflite.mjs';
import { fillInput, verifiedModelPath } from '../../scripts/oracle/oracle.mjs';

function parseArgs(argv) {
  const a = { models: undefined, runs: 50, warmup: 10, threads: [1, 2],
              rgb: null, width: 640, height: 480 };
  const num = (s, name) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 0) throw new Error(`bad ${name}: ${s}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--models') a.models = next();
    else if (k === '--runs') a.runs = Math.max(1, num(next(), k));
    else if (k === '--warmup') a.warmup = num(next(), k);
    else if (k === '--threads') {
      const t = num(next(), k);
      if (t !== 1 && t !== 2) throw new Error('--threads must be 1 or 2');
      a.threads = [t];
    } else if (k === '--rgb') a.rgb = next();
    else if (k === '--width') a.width = num(next(), k);
    else if (k === '--height') a.height = num(next(), k);
    else if (k === '-h' || k === '--help') {
      process.stderr.write('usage: node bench/peer/peer.mjs [--models DIR] [--runs N] ' +
          '[--warmup N] [--threads 1|2] [--rgb FILE --width W --height H]\n');
      process.exit(0);
    } else throw new Error('unknown argument: ' + k);
  }
  return a;
}

/** Deterministic synthetic RGB frame: smooth gradients plus LCG noise. */
function syntheticFrame(w, h) {
  const f = new Uint8Array(w * h * 3);
  let state = 4242 >>> 0, i = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        const base = (x * 7 + y * 3 + c * 50) & 255;
        f[i++] = (base + ((state >>> 24) & 31) - 16) & 255;
      }
    }
  }
  return f;
}

// ---- BlazeFace full range: letterbox preprocessing -------------------------

class Letterbox {
  constructor(srcW, srcH, dst) {
    this.srcW = srcW; this.srcH = srcH; this.dst = dst;
    const scale = Math.min(dst / srcW, dst / srcH);
    this.scale = scale;
    this.cw = Math.round(srcW * scale);
    this.ch = Math.round(srcH * scale);
    this.padX = Math.floor((dst - this.cw) / 2);
    this.padY = Math.floor((dst - this.ch) / 2);
    // Precomputed bilinear taps (pixel centres aligned, clamped at borders).
    const taps = (n, srcN, s) => {
      const i0 = new Int32Array(n), i1 = new Int32Array(n), f = new Float32Array(n);
      for (let o = 0; o < n; o++) {
        let p = (o + 0.5) / s - 0.5;
        if (p < 0) p = 0;
        if (p > srcN - 1) p = srcN - 1;
        const a = Math.floor(p);
        i0[o] = a; i1[o] = Math.min(a + 1, srcN - 1); f[o] = p - a;
      }
      return { i0, i1, f };
    };
    this.tx = taps(this.cw, srcW, scale);
    this.ty = taps(this.ch, srcH, scale);
  }
  /** Writes the normalised 1x192x192x3 tensor into out (Float32Array). */
  run(rgb, out) {
    const { dst, cw, ch, padX, padY, srcW } = this;
    const { i0: xi0, i1: xi1, f: xf } = this.tx;
    const { i0: yi0, i1: yi1, f: yf } = this.ty;
    const k = 1 / 127.5;
    // Padding rows/columns: black (0) -> -1.
    out.fill(-1, 0, padY * dst * 3);
    out.fill(-1, (padY + ch) * dst * 3);
    for (let oy = 0; oy < ch; oy++) {
      const r0 = yi0[oy] * srcW * 3, r1 = yi1[oy] * srcW * 3, fy = yf[oy];
      let o = ((padY + oy) * dst) * 3;
      out.fill(-1, o, o + padX * 3);
      o += padX * 3;
      for (let ox = 0; ox < cw; ox++) {
        const a = xi0[ox] * 3, b = xi1[ox] * 3, fx = xf[ox];
        for (let c = 0; c < 3; c++) {
          const top = rgb[r0 + a + c] + (rgb[r0 + b + c] - rgb[r0 + a + c]) * fx;
          const bot = rgb[r1 + a + c] + (rgb[r1 + b + c] - rgb[r1 + a + c]) * fx;
          out[o++] = (top + (bot - top) * fy) * k - 1;
        }
      }
      out.fill(-1, o, ((padY + oy + 1) * dst) * 3);
    }
  }
}

// ---- BlazeFace full range: decode (MediaPipe face_detection_full_range) ----

const FULL = { size: 192, grid: 48, numBoxes: 2304, numCoords: 16, numKeypoints: 6,
               scale: 192, minScore: 0.6, clip: 100, nmsIou: 0.3 };

function decode(reg, cls, lb) {
  const dets = [];
  const { grid, numCoords, scale, minScore, clip, numKeypoints } = FULL;
  const minLogit = Math.log(minScore / (1 - minScore));
  for (let i = 0; i < FULL.numBoxes; i++) {
    let s = cls[i];
    if (s < -clip) s = -clip; else if (s > clip) s = clip;
    if (s < minLogit) continue;
    const score = 1 / (1 + Math.exp(-s));
    const ax = ((i % grid) + 0.5) / grid, ay = (Math.floor(i / grid) + 0.5) / grid;
    const r = i * numCoords;
    const cx = reg[r] / scale + ax, cy = reg[r + 1] / scale + ay;
    const w = reg[r + 2] / scale, h = reg[r + 3] / scale;
    const kp = new Float64Array(numKeypoints * 2);
    for (let k = 0; k < numKeypoints; k++) {
      kp[2 * k] = reg[r + 4 + 2 * k] / scale + ax;
      kp[2 * k + 1] = reg[r + 5 + 2 * k] / scale + ay;
    }
    dets.push({ score, x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2, kp });
  }
  dets.sort((p, q) => q.score - p.score);
  const iou = (p, q) => {
    const ix = Math.max(0, Math.min(p.x1, q.x1) - Math.max(p.x0, q.x0));
    const iy = Math.max(0, Math.min(p.y1, q.y1) - Math.max(p.y0, q.y0));
    const inter = ix * iy;
    const u = (p.x1 - p.x0) * (p.y1 - p.y0) + (q.x1 - q.x0) * (q.y1 - q.y0) - inter;
    return u > 0 ? inter / u : 0;
  };
  const out = [];
  let rest = dets;
  while (rest.length) {
    const top = rest[0];
    const keep = [], next = [];
    for (const d of rest) (iou(top, d) > FULL.nmsIou ? keep : next).push(d);
    let tw = 0;
    const acc = { x0: 0, y0: 0, x1: 0, y1: 0, kp: new Float64Array(top.kp.length) };
    for (const d of keep) {
      tw += d.score;
      acc.x0 += d.x0 * d.score; acc.y0 += d.y0 * d.score;
      acc.x1 += d.x1 * d.score; acc.y1 += d.y1 * d.score;
      for (let k = 0; k < acc.kp.length; k++) acc.kp[k] += d.kp[k] * d.score;
    }
    // Back to frame pixels (undo the letterbox).
    const px = (v) => (v * FULL.size - lb.padX) / lb.scale;
    const py = (v) => (v * FULL.size - lb.padY) / lb.scale;
    const kp = [];
    for (let k = 0; k < acc.kp.length; k += 2) kp.push([px(acc.kp[k] / tw), py(acc.kp[k + 1] / tw)]);
    out.push({ score: top.score, box: [px(acc.x0 / tw), py(acc.y0 / tw), px(acc.x1 / tw), py(acc.y1 / tw)],
               keypoints: kp });
    rest = next;
  }
  return out;
}

// ---- timing -----------------------------------------------------------------

function median(a) {
  const s = Float64Array.from(a).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
const r3 = (v) => (v == null ? null : Math.round(v * 1000) / 1000);

async function measure(threads, args, mdir, frame) {
  const res = {};
  // Embedder.
  const emb = await createRunner(verifiedModelPath(mdir, 'MobileFaceNet.tflite'), { numThreads: threads });
  const eshape = emb.describe(emb.inputs[0]).shape;
  const batch = eshape[0];
  fillInput(emb.inputData(0), eshape, 'mobilefacenet', { fill: 'lcg', seed: 12345 });
  for (let i = 0; i < args.warmup; i++) emb.infer();
  const et = [];
  for (let i = 0; i < args.runs; i++) {
    const t0 = performance.now();
    emb.infer();
    et.push(performance.now() - t0);
  }
  const eCall = median(et);
  res.embed_ms_per_call = r3(eCall);
  res.embed_batch = batch;
  res.embed_ms_per_face = r3(eCall / batch);
  emb.dispose();

  // Detector.
  const det = await createRunner(verifiedModelPath(mdir, 'face_detection_full_range.tflite'), { numThreads: threads });
  const dshape = det.describe(det.inputs[0]).shape;
  if (dshape[1] !== FULL.size || dshape[2] !== FULL.size || dshape[3] !== 3) {
    throw new Error('unexpected detector input shape ' + dshape);
  }
  const lb = new Letterbox(args.width, args.height, FULL.size);
  const tp = [], ti = [], td = [], tpi = [], tall = [];
  let dets = [];
  for (let i = 0; i < args.warmup + args.runs; i++) {
    const t0 = performance.now();
    lb.run(frame, det.inputData(0));
    const t1 = performance.now();
    det.infer();
    const t2 = performance.now();
    dets = decode(det.outputData(0), det.outputData(1), lb);
    const t3 = performance.now();
    if (i >= args.warmup) {
      tp.push(t1 - t0); ti.push(t2 - t1); td.push(t3 - t2);
      tpi.push(t2 - t0); tall.push(t3 - t0);
    }
  }
  res.detect_ms_per_frame = r3(median(tpi));
  res.detect_infer_ms_per_frame = r3(median(ti));
  res.detect_preprocess_ms_per_frame = r3(median(tp));
  res.detect_decode_ms_per_frame = r3(median(td));
  res.detect_with_decode_ms_per_frame = r3(median(tall));
  res.detections = dets.length;
  res.top_detection = dets.length
    ? { score: r3(dets[0].score), box: dets[0].box.map((v) => r3(v)),
        keypoints: dets[0].keypoints.map((p) => p.map((v) => r3(v))) }
    : null;
  det.dispose();
  return res;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const mdir = modelsDir(args.models);
  let frame, source;
  if (args.rgb) {
    frame = new Uint8Array(fs.readFileSync(args.rgb));
    if (frame.length !== args.width * args.height * 3) {
      throw new Error(`${args.rgb}: ${frame.length} bytes, expected ` +
                      `${args.width}x${args.height}x3 = ${args.width * args.height * 3}`);
    }
    source = path.resolve(args.rgb);
  } else {
    frame = syntheticFrame(args.width, args.height);
    source = 'synthetic';
  }

  const out = {
    peer: 'tflite-wasm',
    interpreter: `@tensorflow/tfjs-tflite@${TFLITE_PKG_VERSION} (TFLite + XNNPACK, WebAssembly SIMD)`,
    node: process.version,
    cpu: (os.cpus()[0] || {}).model || null,
    logical_cpus: os.cpus().length,
    frame: { source, width: args.width, height: args.height },
    detector: 'face_detection_full_range.tflite (192x192)',
    embedder: 'MobileFaceNet.tflite',
    runs: args.runs,
    warmup: args.warmup,
    statistic: 'median',
  };
  const keys = ['embed_ms_per_face', 'embed_ms_per_call', 'detect_ms_per_frame',
                'detect_infer_ms_per_frame', 'detect_preprocess_ms_per_frame',
                'detect_decode_ms_per_frame', 'detect_with_decode_ms_per_frame'];
  const results = {};
  for (const t of args.threads) {
    process.stderr.write(`peer: measuring numThreads ${t}\n`);
    try {
      results[t] = await measure(t, args, mdir, frame);
    } catch (e) {
      if (t === 1) throw e;
      results[t] = { reason: String(e && e.message || e) };
    }
  }
  const first = results[args.threads[0]];
  for (const k of keys) out[k] = first[k] ?? null;
  out.threads = args.threads[0];
  out.detections = first.detections ?? null;
  out.top_detection = first.top_detection ?? null;
  for (const t of [1, 2]) {
    const r = results[t];
    for (const k of keys) out[`${k}_t${t}`] = r ? (r[k] ?? null) : null;
    out[`t${t}_reason`] = !r ? 'not requested (--threads)' : (r.reason || null);
  }
  if (results[2] && !results[2].reason) {
    out.t2_build = 'wasm/tflite_web_api_cc_simd_threaded via node:worker_threads Worker shim';
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main()
  .catch((e) => { console.error('peer.mjs: ' + (e && e.stack || e)); process.exitCode = 1; })
  .finally(() => terminateWorkers());

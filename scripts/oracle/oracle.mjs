#!/usr/bin/env node
// Reference fixtures for openlfr's inference engine: raw outputs of TFLite's
// own interpreter (@tensorflow/tfjs-tflite@0.0.1-alpha.10,
// wasm/tflite_web_api_cc_simd = TFLite + XNNPACK in WebAssembly SIMD,
// numThreads 1) for deterministic inputs. The C tests rebuild the same
// inputs bit-exactly and compare their outputs (tolerance 1e-4).
//
// Re-run (from the repository root):
//   sh scripts/oracle/install.sh                      # once; offline afterwards
//   node scripts/oracle/oracle.mjs [models-dir] [--out DIR]
// models-dir defaults to $LFR_MODELS, else <repo>/models; it must hold
// MobileFaceNet.tflite, face_detection_full_range.tflite and
// face_detection_short_range.tflite (see docs in shared MODELS.md for the
// pinned npm packages and sha256). --out defaults to <repo>/tests/fixtures.
//
// Writes, per model stem S, case k (0..2) and output index j:
//   tests/fixtures/oracle_<S>_case<k>_<j>.f32   raw little-endian float32,
//                                               the tensor in its NHWC order
//   tests/fixtures/oracle.json                  index: tensors, shapes, cases,
//                                               input checksums, first values;
//                                               "file" names are relative to it
//
// Input fill (every input element, flat NHWC index i = 0..N-1, batch included):
//   case 0, 1 ("lcg", seed 12345 / 777):
//     state = seed (uint32); per element: state = (state*1664525 + 1013904223)
//     mod 2^32; byte = state >>> 24.
//   case 2 ("pattern"): element (n, y, x, c):
//     byte = (x*7 + y*3 + c*50 + n*101) & 255
//   normalisation, computed in double precision then rounded to float32:
//     MobileFaceNet: value = (byte - 127.5) / 128.0      (exact in float32)
//     BlazeFace:     value = byte / 127.5 - 1.0          (C: (float)(b / 127.5 - 1.0))
// oracle.json records the sha256 of each input's float32 LE bytes so the C
// generator can be checked bit-exactly.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { createRunner, modelsDir, REPO_ROOT, TFLITE_PKG_VERSION } from './tflite.mjs';

export const MODELS = [
  { file: 'MobileFaceNet.tflite', norm: 'mobilefacenet',
    sha256: 'd8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b' },
  { file: 'face_detection_full_range.tflite', norm: 'blazeface',
    sha256: '99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3' },
  { file: 'face_detection_short_range.tflite', norm: 'blazeface',
    sha256: '3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633' },
];

export const CASES = [
  { case: 0, fill: 'lcg', seed: 12345 },
  { case: 1, fill: 'lcg', seed: 777 },
  { case: 2, fill: 'pattern', formula: '(x*7 + y*3 + c*50 + n*101) & 255' },
];

export function normalise(norm, byte) {
  return norm === 'mobilefacenet' ? (byte - 127.5) / 128.0 : byte / 127.5 - 1.0;
}

/** Fills a Float32Array (NHWC, shape [N,H,W,C]) for the given case. */
export function fillInput(dst, shape, norm, c) {
  const [N, H, W, C] = shape;
  if (N * H * W * C !== dst.length) throw new Error('shape/size mismatch');
  if (c.fill === 'lcg') {
    let state = c.seed >>> 0;
    for (let i = 0; i < dst.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      dst[i] = normalise(norm, state >>> 24);
    }
  } else {
    let i = 0;
    for (let n = 0; n < N; n++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          for (let ch = 0; ch < C; ch++)
            dst[i++] = normalise(norm, (x * 7 + y * 3 + ch * 50 + n * 101) & 255);
  }
}

/** Path of a model in mdir after checking its sha256 against MODELS. */
export function verifiedModelPath(mdir, file) {
  const m = MODELS.find((x) => x.file === file);
  const p = path.join(mdir, file);
  const got = sha256(fs.readFileSync(p));
  if (m && got !== m.sha256) throw new Error(`${p}: sha256 ${got}, expected ${m.sha256}`);
  return p;
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

function f32Bytes(arr) {
  // Copy out of the wasm heap; host is little-endian (checked in main).
  const copy = Float32Array.from(arr);
  return Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength);
}

function stats(arr) {
  let mn = Infinity, mx = -Infinity, mabs = 0, finite = true;
  for (const v of arr) {
    if (!Number.isFinite(v)) finite = false;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    if (Math.abs(v) > mabs) mabs = Math.abs(v);
  }
  return { min: mn, max: mx, max_abs: mabs, all_finite: finite };
}

// JSON.stringify with 2-space indent, but arrays of numbers on one line.
function toJson(v) {
  return JSON.stringify(v, null, 2).replace(
      /\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]/g,
      (_, body) => '[' + body.split(/,\s*/).join(', ') + ']');
}

function parseArgs(argv) {
  const a = { models: undefined, out: path.join(REPO_ROOT, 'tests', 'fixtures') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') a.out = argv[++i];
    else if (argv[i] === '--help' || argv[i] === '-h') {
      console.log('usage: node scripts/oracle/oracle.mjs [models-dir] [--out DIR]');
      process.exit(0);
    } else if (!argv[i].startsWith('--') && a.models === undefined) a.models = argv[i];
    else throw new Error('unknown argument: ' + argv[i]);
  }
  return a;
}

async function main() {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('big-endian host not supported');
  }
  const args = parseArgs(process.argv.slice(2));
  const mdir = modelsDir(args.models);
  const outDir = path.resolve(args.out);
  fs.mkdirSync(outDir, { recursive: true });
  const relOut = path.relative(REPO_ROOT, outDir) || '.';

  const index = {
    about: 'Raw outputs of TFLite\'s interpreter for deterministic inputs; ' +
           'written by scripts/oracle/oracle.mjs (see its header).',
    interpreter: `@tensorflow/tfjs-tflite@${TFLITE_PKG_VERSION} ` +
                 'wasm/tflite_web_api_cc_simd (TFLite + XNNPACK, WebAssembly SIMD)',
    num_threads: 1,
    node: process.version,
    tolerance_abs: 1e-4,
    file_format: 'raw little-endian float32, tensor elements in row-major (NHWC) order',
    input_fill: {
      lcg: 'state = seed (uint32); for each element i in flat NHWC order ' +
           '(batch included): state = (state*1664525 + 1013904223) mod 2^32; ' +
           'byte = state >>> 24',
      pattern: 'element (n,y,x,c): byte = (x*7 + y*3 + c*50 + n*101) & 255',
      normalisation: {
        mobilefacenet: 'value = (byte - 127.5) / 128.0 (double, then float32; exact)',
        blazeface: 'value = byte / 127.5 - 1.0 (double, then rounded to float32)',
      },
      input_sha256: 'sha256 of the input tensor as float32 little-endian bytes',
    },
    models: [],
  };

  for (const m of MODELS) {
    const modelPath = path.join(mdir, m.file);
    const bytes = fs.readFileSync(modelPath);
    const got = sha256(bytes);
    if (got !== m.sha256) {
      throw new Error(`${modelPath}: sha256 ${got}, expected ${m.sha256}`);
    }
    const stem = path.basename(m.file, '.tflite');
    const r = await createRunner(modelPath, { numThreads: 1 });
    const entry = {
      model: m.file, stem, sha256: got, normalisation: m.norm,
      inputs: r.inputs.map((t) => r.describe(t)),
      outputs: r.outputs.map((t) => r.describe(t)),
      cases: [],
    };
    console.log(`${m.file}`);
    entry.inputs.forEach((t, j) =>
      console.log(`  input  ${j}: ${t.name} [${t.shape.join(',')}] ${t.dtype}`));
    entry.outputs.forEach((t, j) =>
      console.log(`  output ${j}: ${t.name} [${t.shape.join(',')}] ${t.dtype}`));
    if (entry.inputs.length !== 1 || entry.inputs[0].shape.length !== 4 ||
        entry.inputs[0].dtype !== 'float32') {
      throw new Error(`${m.file}: expected one float32 NHWC input`);
    }

    for (const c of CASES) {
      const shape = entry.inputs[0].shape;
      const input = r.inputData(0);
      fillInput(input, shape, m.norm, c);
      const inBytes = f32Bytes(input);
      r.infer();
      // Determinism check: a second Infer() on the same input must agree
      // bit for bit.
      const first = r.outputs.map((_, j) => f32Bytes(r.outputData(j)));
      fillInput(r.inputData(0), shape, m.norm, c);
      r.infer();
      r.outputs.forEach((_, j) => {
        if (!first[j].equals(f32Bytes(r.outputData(j)))) {
          throw new Error(`${m.file} case ${c.case}: output ${j} not deterministic`);
        }
      });
      const ce = {
        case: c.case, fill: c.fill,
        ...(c.fill === 'lcg' ? { seed: c.seed } : { formula: c.formula }),
        input_shape: shape,
        input_sha256: sha256(inBytes),
        input_first: Array.from(new Float32Array(inBytes.buffer, inBytes.byteOffset, 6)),
        outputs: [],
      };
      first.forEach((buf, j) => {
        const fname = `oracle_${stem}_case${c.case}_${j}.f32`;
        fs.writeFileSync(path.join(outDir, fname), buf);
        const vals = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
        ce.outputs.push({
          index: j, name: entry.outputs[j].name, shape: entry.outputs[j].shape,
          dtype: entry.outputs[j].dtype,
          file: fname,  // next to oracle.json
          count: vals.length, bytes: buf.byteLength, sha256: sha256(buf),
          first: Array.from(vals.slice(0, 8)),
          ...stats(vals),
        });
        console.log(`  case ${c.case} -> ${fname} (${vals.length} floats) first ` +
                    Array.from(vals.slice(0, 4)).map((v) => v.toPrecision(7)).join(' '));
      });
      entry.cases.push(ce);
    }
    r.dispose();
    index.models.push(entry);
  }
  fs.writeFileSync(path.join(outDir, 'oracle.json'), toJson(index) + '\n');
  console.log(`wrote ${path.join(relOut, 'oracle.json')}`);
}

// Run only as a script (the fill helpers are importable by other tools).
if (process.argv[1] &&
    import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  main().catch((e) => { console.error('oracle.mjs: ' + (e && e.stack || e)); process.exit(1); });
}

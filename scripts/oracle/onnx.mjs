#!/usr/bin/env node
// Reference fixtures for openlfr's ONNX reader and executor: the raw outputs
// of onnxruntime (onnxruntime-node@1.30.0, CPU execution provider, 1 thread,
// all graph optimisations, the int8-weight MatMul kept in float32: see
// createSession's `exact` in ort.mjs) for every shipped ONNX model on real
// images. The
// C test (tests/unit/test_onnx.c) rebuilds the same inputs and compares its
// outputs with these within 1e-4 (|ours - ort| <= 1e-4 * max(1, |ort|)).
//
// Re-run (from the repository root, after building):
//   sh scripts/oracle/install.sh                 # once; offline afterwards
//   node scripts/oracle/onnx.mjs [--models DIR] [--data DIR] [--tool PATH] [--out DIR]
//
//   --models  models folder (default $LFR_MODELS, else <repo>/models); each
//             file is checked against scripts/models.sha256
//   --data    shared face data (default $LFR_DATA, else <repo>/../shared/data)
//   --tool    build/lfr_onnx_inputs, which writes the inputs (the cases of
//             tests/unit/onnx_cases.h) as 8-bit RGB with their sha256
//   --out     default <repo>/tests/fixtures
//
// Inputs (the same rule as onnx_cases.h): YuNet gets raw BGR values 0..255,
// EdgeFace RGB as (x - 127.5) / 127.5 computed in double then rounded to
// float32; both NCHW as the files declare.
//
// Writes tests/fixtures/onnx_<case>_<output>.f32 (raw little-endian float32
// in the output's own row-major order) and tests/fixtures/onnx_oracle.tsv:
//   case  model  model_sha256  n h w  input_sha256  output  dims  file  file_sha256

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSession, tensor, ORT_PKG_VERSION } from './ort.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

function parseArgs(argv) {
  const a = {
    models: process.env.LFR_MODELS || path.join(REPO, 'models'),
    data: process.env.LFR_DATA || path.join(REPO, '..', 'shared', 'data'),
    tool: path.join(REPO, 'build', 'lfr_onnx_inputs'),
    out: path.join(REPO, 'tests', 'fixtures'),
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--models') a.models = v();
    else if (k === '--data') a.data = v();
    else if (k === '--tool') a.tool = v();
    else if (k === '--out') a.out = v();
    else throw new Error('unknown argument: ' + k);
  }
  return a;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function pinnedSums() {
  const sums = new Map();
  for (const line of fs.readFileSync(path.join(REPO, 'scripts', 'models.sha256'), 'utf8').split('\n')) {
    const m = line.match(/^([0-9a-f]{64})\s+\*?(\S+)$/);
    if (m) sums.set(m[2], m[1]);
  }
  return sums;
}

/** NCHW float input from n HWC RGB images. */
function makeInput(rgb, n, h, w, edgeface) {
  const x = new Float32Array(n * 3 * h * w);
  for (let k = 0; k < n; k++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          const src = ((k * h + y) * w + xx) * 3;
          const dst = ((k * 3 + c) * h + y) * w + xx;
          x[dst] = edgeface ? (rgb[src + c] - 127.5) / 127.5 : rgb[src + 2 - c];
        }
  return x;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const sums = pinnedSums();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lfr-onnx-'));
  const listing = execFileSync(args.tool, [args.data, tmp], { encoding: 'utf8' });
  fs.mkdirSync(args.out, { recursive: true });
  const rows = [
    `# Raw outputs of onnxruntime-node@${ORT_PKG_VERSION} (CPU, 1 thread, all graph ` +
        `optimisations, qdq_matmulnbits_accuracy_level 1, ${process.version}) for the cases ` +
        'of tests/unit/onnx_cases.h;',
    '# written by scripts/oracle/onnx.mjs. Columns: case, model, model sha256, n, h, w, ' +
        'input sha256 (8-bit RGB), output, dims, file, file sha256.',
  ];
  const sessions = new Map();
  for (const line of listing.trim().split('\n')) {
    const [name, model, n, h, w, edgeface, inSha] = line.split('\t');
    const mpath = path.join(args.models, model);
    const bytes = fs.readFileSync(mpath);
    const msha = sha256(bytes);
    if (sums.get(model) !== msha) throw new Error(`${mpath}: sha256 ${msha}, not the pinned file`);
    const rgb = fs.readFileSync(path.join(tmp, name + '.rgb'));
    if (sha256(rgb) !== inSha) throw new Error(`${name}: input changed on disk`);
    if (!sessions.has(model)) sessions.set(model, await createSession(mpath, { threads: 1, exact: true }));
    const s = sessions.get(model);
    const dims = [Number(n), 3, Number(h), Number(w)];
    const x = makeInput(rgb, dims[0], dims[2], dims[3], edgeface === '1');
    const r1 = await s.run({ [s.inputNames[0]]: tensor(x, dims) });
    const r2 = await s.run({ [s.inputNames[0]]: tensor(x, dims) });
    for (const out of s.outputNames) {
      const a = Buffer.from(r1[out].data.buffer, r1[out].data.byteOffset, r1[out].data.byteLength);
      const b = Buffer.from(r2[out].data.buffer, r2[out].data.byteOffset, r2[out].data.byteLength);
      if (!a.equals(b)) throw new Error(`${name}: output ${out} not deterministic`);
      const file = `onnx_${name}_${out}.f32`;
      fs.writeFileSync(path.join(args.out, file), a);
      rows.push([name, model, msha, n, h, w, inSha, out, r1[out].dims.join(','), file, sha256(a)]
        .join('\t'));
      console.log(`${name}: ${out} [${r1[out].dims.join(',')}] -> ${file}`);
    }
  }
  fs.writeFileSync(path.join(args.out, 'onnx_oracle.tsv'), rows.join('\n') + '\n');
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const s of sessions.values()) await s.release();
}

main().catch((e) => { console.error('onnx.mjs: ' + (e && e.stack || e)); process.exit(1); });

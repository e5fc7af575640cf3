// Node loader for ONNX Runtime's CPU build as shipped in
// onnxruntime-node@1.30.0 (installed by scripts/oracle/install.sh into
// scripts/oracle/node_modules/, checked by sha256). Shared by the ONNX
// fixture script (scripts/oracle/onnx.mjs) and the ONNX benchmark peer
// (bench/peer/onnx_peer.mjs); never used at run time.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ORT_PKG_VERSION = '1.30.0';

let ort = null;

/** The onnxruntime-node module, after checking the installed version. */
export function loadOrt() {
  if (ort) return ort;
  const dir = process.env.LFR_ORT_DIR || path.join(HERE, 'node_modules', 'onnxruntime-node');
  const pj = path.join(dir, 'package.json');
  if (!fs.existsSync(pj)) {
    throw new Error(`onnxruntime-node not found in ${dir}; run: sh scripts/oracle/install.sh`);
  }
  const ver = JSON.parse(fs.readFileSync(pj, 'utf8')).version;
  if (ver !== ORT_PKG_VERSION) {
    throw new Error(`expected onnxruntime-node@${ORT_PKG_VERSION} in ${dir}, found ${ver}`);
  }
  ort = createRequire(import.meta.url)(dir);
  return ort;
}

/**
 * An inference session on the CPU with `threads` intra-op threads and one
 * inter-op thread (sequential execution), all graph optimisations on (what a
 * user of onnxruntime gets by default).
 *
 * exact: onnxruntime 1.30's default optimisations fuse DequantizeLinear ->
 * MatMul (EdgeFace's int8 weights) into MatMulNBits, which then computes
 * with int8 activations: EdgeFace's embedding moves by up to 0.016 from
 * the model's float32 definition. exact sets the fused kernel's accuracy
 * level to 1 (float32 compute); outputs then agree with onnxruntime
 * without optimisations within 1e-6. Fixtures use exact; benchmarks time
 * both.
 */
export async function createSession(modelPath, { threads = 1, exact = false } = {}) {
  const o = loadOrt();
  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  if (exact) opts.extra = { session: { qdq_matmulnbits_accuracy_level: '1' } };
  return o.InferenceSession.create(modelPath, opts);
}

/** A float32 tensor of the given shape over `data` (a Float32Array). */
export function tensor(data, dims) {
  return new (loadOrt().Tensor)('float32', data, dims);
}

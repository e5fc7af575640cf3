#!/usr/bin/env node
// Benchmark peer for openlfr's ONNX executor: onnxruntime (onnxruntime-node
// @1.30.0, CPU execution provider) running one model at one input shape.
// Prints ONE JSON object on stdout; progress goes to stderr.
//
// Install once:  sh scripts/oracle/install.sh
// Run:           node bench/peer/onnx_peer.mjs --model FILE --shape N,3,H,W
//                     [--threads T] [--runs N] [--warmup N]
//
// Two sessions are timed, each with T intra-op threads, sequential
// execution and all graph optimisations:
//   default: onnxruntime as a user gets it. For EdgeFace this fuses the
//            int8 weights' DequantizeLinear -> MatMul into MatMulNBits,
//            which computes with int8 activations (embeddings move by up to
//            0.016, see scripts/oracle/ort.mjs);
//   exact:   the same with that kernel in float32 (accuracy level 1): the
//            arithmetic openlfr does.
// Each run is session.run() on a fixed input (values (i * 7) % 255, the
// pattern bench/onnx.c uses), timed with performance.now(); medians and
// minima of --runs runs after --warmup untimed ones.

import { createSession, tensor, ORT_PKG_VERSION } from '../../scripts/oracle/ort.mjs';

function parseArgs(argv) {
  const a = { model: null, shape: null, threads: 1, runs: 30, warmup: 5 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--model') a.model = v();
    else if (k === '--shape') a.shape = v().split(',').map(Number);
    else if (k === '--threads') a.threads = Number(v());
    else if (k === '--runs') a.runs = Math.max(3, Number(v()));
    else if (k === '--warmup') a.warmup = Number(v());
    else throw new Error('unknown argument: ' + k);
  }
  if (!a.model || !a.shape || a.shape.length !== 4 || a.shape.some((d) => !(d > 0)))
    throw new Error('usage: onnx_peer.mjs --model FILE --shape N,3,H,W [--threads T] [--runs N]');
  return a;
}

async function time(exact, args, x) {
  const s = await createSession(args.model, { threads: args.threads, exact });
  const feeds = { [s.inputNames[0]]: tensor(x, args.shape) };
  for (let i = 0; i < args.warmup; i++) await s.run(feeds);
  const t = [];
  for (let i = 0; i < args.runs; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    t.push(performance.now() - t0);
  }
  await s.release();
  t.sort((p, q) => p - q);
  const med = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
  return { median_ms: med, min_ms: t[0] };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const n = args.shape.reduce((p, q) => p * q, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (i * 7) % 255;
  process.stderr.write(`onnx_peer: ${args.model} [${args.shape}] ${args.threads} thread(s)\n`);
  const out = {
    peer: `onnxruntime-node@${ORT_PKG_VERSION}`,
    node: process.version,
    model: args.model,
    shape: args.shape,
    threads: args.threads,
    runs: args.runs,
    default: await time(false, args, x),
    exact: await time(true, args, x),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error('onnx_peer.mjs: ' + (e && e.stack || e)); process.exitCode = 1; });

// Minimal Node loader for TFLite's own interpreter as shipped in
// @tensorflow/tfjs-tflite@0.0.1-alpha.10 (TFLite + XNNPACK compiled to
// WebAssembly). Only the Emscripten module under package/wasm/ is used; the
// tfjs JS API (and its tfjs-core peer) is not needed.
//
// Shared by scripts/oracle/oracle.mjs (fixtures) and bench/peer/peer.mjs
// (benchmark peer). Install the package first: sh scripts/oracle/install.sh
//
// The package's wasm glue is built for browsers only (ENVIRONMENT=web,worker).
// The single-threaded SIMD build runs in Node as is. The threaded build needs
// a Web `Worker`; installThreadShim() provides one on top of
// node:worker_threads (self, importScripts, postMessage, onmessage), which is
// enough for Emscripten's pthread pool.

import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as WT from 'node:worker_threads';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');
export const TFLITE_PKG_VERSION = '0.0.1-alpha.10';

/** Directory of the unpacked @tensorflow/tfjs-tflite package. */
export function packageDir() {
  const dir = process.env.LFR_TFJS_TFLITE_DIR ||
      path.join(HERE, 'node_modules', '@tensorflow', 'tfjs-tflite');
  const pj = path.join(dir, 'package.json');
  if (!fs.existsSync(pj)) {
    throw new Error(`@tensorflow/tfjs-tflite not found in ${dir}; ` +
                    'run: sh scripts/oracle/install.sh');
  }
  const ver = JSON.parse(fs.readFileSync(pj, 'utf8')).version;
  if (ver !== TFLITE_PKG_VERSION) {
    throw new Error(`expected @tensorflow/tfjs-tflite@${TFLITE_PKG_VERSION} ` +
                    `in ${dir}, found ${ver}`);
  }
  return dir;
}

/** Models directory: explicit argument, else $LFR_MODELS, else <repo>/models. */
export function modelsDir(arg) {
  return path.resolve(arg || process.env.LFR_MODELS ||
                      path.join(REPO_ROOT, 'models'));
}

// Bootstrap run inside each node:worker_threads worker: makes it look like a
// classic Web Worker to Emscripten's tflite_web_api_cc_simd_threaded.worker.js.
const WORKER_BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const vm = require('node:vm');
globalThis.self = globalThis;
globalThis.location = { href: workerData.script };
globalThis.navigator = globalThis.navigator ||
    { hardwareConcurrency: workerData.cores };
globalThis.importScripts = (...files) => {
  for (const f of files) {
    vm.runInThisContext(fs.readFileSync(f, 'utf8'), { filename: f });
  }
};
globalThis.postMessage = (msg, transfer) => parentPort.postMessage(msg, transfer);
parentPort.on('message', (data) => {
  if (typeof globalThis.onmessage === 'function') globalThis.onmessage({ data });
});
importScripts(workerData.workerScript);
`;

let shimInstalled = false;
const liveWorkers = new Set();

/** Installs globalThis.Worker (and navigator) for Emscripten pthreads. */
export function installThreadShim() {
  if (shimInstalled) return;
  shimInstalled = true;
  if (typeof globalThis.navigator === 'undefined') {
    globalThis.navigator = { hardwareConcurrency: os.cpus().length };
  }
  class NodeWebWorker {
    constructor(workerScript) {
      this.onmessage = null;
      this.onerror = null;
      this._w = new WT.Worker(WORKER_BOOTSTRAP, {
        eval: true,
        workerData: {
          workerScript: String(workerScript),
          script: String(workerScript),
          cores: os.cpus().length,
        },
      });
      this._w.on('message', (data) => { if (this.onmessage) this.onmessage({ data }); });
      this._w.on('error', (e) => {
        if (this.onerror) this.onerror({ message: String(e && e.message || e),
                                         filename: '', lineno: 0 });
        else throw e;
      });
      // Workers stay referenced (Emscripten preloads a pool of 8 and waits
      // for them asynchronously); callers end with terminateWorkers().
      liveWorkers.add(this);
    }
    postMessage(msg, transfer) { this._w.postMessage(msg, transfer); }
    terminate() { liveWorkers.delete(this); return this._w.terminate(); }
  }
  globalThis.Worker = NodeWebWorker;
}

/** Terminates all shim workers (lets the process exit promptly). */
export async function terminateWorkers() {
  await Promise.all([...liveWorkers].map((w) => w.terminate()));
}

const moduleCache = new Map();

/**
 * Loads the Emscripten module. threaded=false: tflite_web_api_cc_simd (the
 * build MODELS.md measured); threaded=true: tflite_web_api_cc_simd_threaded.
 */
export async function loadModule({ threaded = false } = {}) {
  const key = threaded ? 'threaded' : 'single';
  if (moduleCache.has(key)) return moduleCache.get(key);
  const wasmDir = path.join(packageDir(), 'wasm');
  const base = threaded ? 'tflite_web_api_cc_simd_threaded' : 'tflite_web_api_cc_simd';
  const jsPath = path.join(wasmDir, base + '.js');
  if (threaded) installThreadShim();
  const require = createRequire(import.meta.url);
  const factory = require(jsPath);
  const opts = {
    wasmBinary: fs.readFileSync(path.join(wasmDir, base + '.wasm')),
    locateFile: (p) => path.join(wasmDir, p),
    print: (s) => process.stderr.write(s + '\n'),
    printErr: (s) => process.stderr.write(s + '\n'),
  };
  if (threaded) opts.mainScriptUrlOrBlob = jsPath;
  const mod = await factory(opts);
  moduleCache.set(key, mod);
  return mod;
}

function vecToArray(v) {
  const out = [];
  for (let i = 0; i < v.size(); i++) out.push(v.get(i));
  v.delete();
  return out;
}

/** A TFLite interpreter (TFLiteWebModelRunner) for one model. */
export class Runner {
  constructor(mod, modelBytes, numThreads) {
    this.mod = mod;
    const bytes = new Uint8Array(modelBytes.buffer, modelBytes.byteOffset,
                                 modelBytes.byteLength);
    this.ptr = mod._malloc(bytes.length);
    mod.HEAPU8.set(bytes, this.ptr);
    const res = mod.TFLiteWebModelRunner.CreateFromBufferAndOptions(
        this.ptr, bytes.length,
        { numThreads, enableProfiling: false, maxProfilingBufferEntries: 1024 });
    if (!res || !res.ok()) {
      const msg = res ? res.errorMessage() : 'null result';
      mod._free(this.ptr);
      throw new Error('CreateFromBufferAndOptions failed: ' + msg);
    }
    this.runner = res.value();
    this.numThreads = numThreads;
    // Tensor infos are stable for the runner's lifetime; data() views are
    // re-fetched on every access because the wasm heap can grow.
    this.inputs = vecToArray(this.runner.GetInputs());
    this.outputs = vecToArray(this.runner.GetOutputs());
  }
  static shapeOf(info) {
    return String(info.shape).split(',').filter((s) => s !== '').map(Number);
  }
  describe(info) {
    return { name: info.name, shape: Runner.shapeOf(info), dtype: info.dataType };
  }
  inputData(i) { return this.inputs[i].data(); }
  outputData(i) { return this.outputs[i].data(); }
  infer() {
    if (!this.runner.Infer()) throw new Error('Infer() failed');
  }
  dispose() {
    this.runner.delete();
    this.mod._free(this.ptr);
  }
}

/** Convenience: load module + model file, return a Runner. */
export async function createRunner(modelPath, { numThreads = 1, threaded } = {}) {
  const mod = await loadModule({ threaded: threaded ?? numThreads > 1 });
  return new Runner(mod, fs.readFileSync(modelPath), numThreads);
}

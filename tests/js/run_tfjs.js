#!/usr/bin/env node
'use strict';
/*
 * Long-lived TensorFlow.js 4.22.0 worker (CPU backend, no tfjs-node) for the tfjs-lite tests.
 *
 * Protocol: one JSON request per line on stdin, one JSON response per line on stdout, in order.
 * Everything else TF.js (or anything else) prints goes to stderr, so stdout stays pure JSON.
 *
 * Request fields:
 *   id          any JSON value, echoed back
 *   op          "run" (default) | "info" | "ping" | "exit"
 *   model_dir   folder holding model.json (+ the shard files it lists)
 *   kind        "layers" | "graph"
 *   inputs      {name: tensor} or [tensor, ...] (model input order)
 *                 tensor = {"dtype", "shape", "data": flat row-major list}
 *                       or {"dtype", "shape", "b64": little-endian bytes, base64}
 *                 numbers may be the strings "NaN", "Infinity", "-Infinity"; strings are UTF-8 text;
 *                 complex64 data is interleaved (re, im) pairs.
 *   outputs     optional list of output names (graph: signature keys or node names[:k];
 *               layers: output layer names). Default: every model output.
 *   encoding    "json" (default: outputs carry "data") | "base64" (numeric outputs carry "b64")
 *   sync        graph only: use model.execute instead of model.executeAsync
 *   repeat      time this many inferences (after the first one) and report the median
 *
 * Response: {"id", "ok": true, "outputs": {name: tensor}, "output_order": [...], "load_ms", "run_ms",
 *            ["first_run_ms", "run_ms_all"]}   or   {"id", "ok": false, "error", "stack"}.
 * "info" responds with the model's input/output names (see modelInfo below).
 */

// TF.js and friends print banners/warnings with console.log; stdout is reserved for responses.
const realStdoutWrite = process.stdout.write.bind(process.stdout);
const toStderr = (...args) => {
  process.stderr.write(args.map((a) => (typeof a === 'string' ? a : require('util').inspect(a))).join(' ') + '\n');
};
console.log = toStderr;
console.info = toStderr;
console.warn = toStderr;
console.debug = toStderr;

const fs = require('fs');
const path = require('path');
const readline = require('readline');

const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers');
const tfc = require('@tensorflow/tfjs-converter');

const VERSIONS = {
  'tfjs-core': tf.version_core,
  'tfjs-layers': tfl.version_layers,
  'tfjs-converter': tfc.version_converter,
  node: process.version,
};

function send(obj) {
  realStdoutWrite(JSON.stringify(obj) + '\n');
}

// ---------------------------------------------------------------------------------------------
// Loading a model folder from disk, the way tf.io.http would load it from a server.

function readModelJSON(modelDir) {
  const file = path.join(modelDir, 'model.json');
  if (!fs.existsSync(file)) {
    throw new Error(`model.json not found in ${modelDir}`);
  }
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`model.json in ${modelDir} is not valid JSON: ${e.message}`);
  }
}

function toArrayBuffer(buf) {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

function fileIOHandler(modelDir) {
  return {
    async load() {
      const modelJSON = readModelJSON(modelDir);
      // Same shape as tf.io.http's loader: [flat weight specs, one ArrayBuffer per shard file].
      const loadWeights = async (weightsManifest) => {
        const specs = tf.io.getWeightSpecs(weightsManifest);
        const buffers = [];
        for (const group of weightsManifest) {
          for (const p of group.paths || []) {
            const file = path.join(modelDir, p);
            if (!fs.existsSync(file)) {
              throw new Error(`weight file ${p} listed in model.json not found in ${modelDir}`);
            }
            buffers.push(toArrayBuffer(fs.readFileSync(file)));
          }
        }
        return [specs, buffers];
      };
      return tf.io.getModelArtifactsForJSON(modelJSON, loadWeights);
    },
  };
}

async function loadModel(modelDir, kind) {
  if (!modelDir) throw new Error('request has no model_dir');
  const handler = fileIOHandler(modelDir);
  if (kind === 'layers') return tfl.loadLayersModel(handler);
  if (kind === 'graph') return tfc.loadGraphModel(handler);
  throw new Error(`unknown kind ${JSON.stringify(kind)} (expected "layers" or "graph")`);
}

// ---------------------------------------------------------------------------------------------
// Tensors <-> JSON

function parseNumber(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === 'NaN' || v === 'nan') return NaN;
  if (v === 'Infinity' || v === 'inf') return Infinity;
  if (v === '-Infinity' || v === '-inf') return -Infinity;
  throw new Error(`not a number: ${JSON.stringify(v)}`);
}

function decodeB64(b64, dtype) {
  const buf = Buffer.from(b64, 'base64');
  const ab = toArrayBuffer(buf);
  if (dtype === 'float32' || dtype === 'complex64') return new Float32Array(ab);
  if (dtype === 'int32') return new Int32Array(ab);
  if (dtype === 'bool') return new Uint8Array(ab);
  throw new Error(`base64 data is not supported for dtype ${dtype}`);
}

function makeTensor(spec, label) {
  if (spec == null || typeof spec !== 'object') throw new Error(`input ${label}: not a tensor object`);
  const dtype = spec.dtype || 'float32';
  const shape = spec.shape;
  if (!Array.isArray(shape)) throw new Error(`input ${label}: missing shape`);
  if (dtype === 'string') {
    if (!Array.isArray(spec.data)) throw new Error(`input ${label}: string data must be a list`);
    return tf.tensor(spec.data.map(String), shape, 'string');
  }
  let values;
  if (spec.b64 != null) {
    values = decodeB64(spec.b64, dtype);
  } else if (Array.isArray(spec.data)) {
    values = spec.data.map(parseNumber);
  } else {
    throw new Error(`input ${label}: needs "data" (list) or "b64"`);
  }
  if (dtype === 'complex64') {
    const n = values.length / 2;
    const re = new Float32Array(n);
    const im = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      re[i] = values[2 * i];
      im[i] = values[2 * i + 1];
    }
    return tf.complex(tf.tensor(re, shape, 'float32'), tf.tensor(im, shape, 'float32'));
  }
  if (dtype === 'float32' || dtype === 'int32' || dtype === 'bool') {
    if (dtype === 'bool') values = Uint8Array.from(values, (x) => (x ? 1 : 0));
    return tf.tensor(values, shape, dtype);
  }
  throw new Error(`input ${label}: unsupported dtype ${dtype} (TF.js has float32, int32, bool, string, complex64)`);
}

function jsonNumber(x) {
  if (Number.isFinite(x)) return x;
  if (Number.isNaN(x)) return 'NaN';
  return x > 0 ? 'Infinity' : '-Infinity';
}

function tensorToJSON(t, encoding) {
  const out = { dtype: t.dtype, shape: t.shape.slice() };
  const values = t.dataSync(); // strings come back decoded; complex64 as interleaved float32
  if (t.dtype === 'string') {
    out.data = Array.from(values, String);
  } else if (encoding === 'base64') {
    let typed = values;
    if (t.dtype === 'bool') typed = Uint8Array.from(values);
    // The CPU backend's int32 -> float32 Cast keeps the Int32Array (same values, float32 dtype):
    // send the bytes the dtype announces.
    if (t.dtype === 'float32' && !(values instanceof Float32Array)) typed = Float32Array.from(values);
    if (t.dtype === 'int32' && !(values instanceof Int32Array)) typed = Int32Array.from(values);
    out.b64 = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString('base64');
  } else if (t.dtype === 'bool') {
    out.data = Array.from(values, (x) => x !== 0);
  } else {
    out.data = Array.from(values, jsonNumber);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running

// Sequential models leave inputNames/outputNames empty (only the inner functional model fills them),
// so fall back to the layer that produces each symbolic input/output.
function layersIONames(model, which) {
  const own = which === 'inputs' ? model.inputNames : model.outputNames;
  const syms = model[which];
  if (own && own.length === syms.length) return own.slice();
  return syms.map((s) => (s.sourceLayer ? s.sourceLayer.name : s.name));
}

function modelInfo(model, kind) {
  if (kind === 'layers') {
    const sym = (s) => ({ name: s.name, shape: s.shape, dtype: s.dtype });
    return {
      input_names: layersIONames(model, 'inputs'),
      output_names: layersIONames(model, 'outputs'),
      class_name: model.getClassName(),
      inputs: model.inputs.map(sym),
      outputs: model.outputs.map(sym),
      layers: model.layers.map((l) => ({ name: l.name, class_name: l.getClassName() })),
      weights: model.weights.map((w) => ({ name: w.originalName, shape: w.shape, dtype: w.dtype })),
    };
  }
  const node = (n) => ({ name: n.name, shape: n.shape == null ? null : n.shape, dtype: n.dtype == null ? null : n.dtype });
  return {
    input_names: model.inputNodes.slice(),
    output_names: model.outputNodes.slice(),
    inputs: model.inputs.map(node),
    outputs: model.outputs.map(node),
    signature: model.signature ? { inputs: Object.keys(model.signature.inputs || {}), outputs: Object.keys(model.signature.outputs || {}) } : null,
    weights: Object.keys(model.weights),
  };
}

function buildInputs(reqInputs, orderNames) {
  // Returns {asList: Tensor[] | null, asMap: {name: Tensor} | null, all: Tensor[]}
  if (reqInputs == null) throw new Error('request has no inputs');
  if (Array.isArray(reqInputs)) {
    const list = reqInputs.map((s, i) => makeTensor(s, `#${i}`));
    return { asList: list, asMap: null, all: list };
  }
  const map = {};
  const all = [];
  for (const name of Object.keys(reqInputs)) {
    map[name] = makeTensor(reqInputs[name], name);
    all.push(map[name]);
  }
  if (orderNames) {
    // Layers models take inputs in model order; map names onto that order.
    const missing = orderNames.filter((n) => !(n in map));
    const extra = Object.keys(map).filter((n) => !orderNames.includes(n));
    if (missing.length || extra.length) {
      all.forEach((t) => t.dispose());
      throw new Error(`input names ${JSON.stringify(Object.keys(map))} do not match the model inputs ` +
        `${JSON.stringify(orderNames)}` + (missing.length ? `; missing ${JSON.stringify(missing)}` : '') +
        (extra.length ? `; unknown ${JSON.stringify(extra)}` : ''));
    }
    return { asList: orderNames.map((n) => map[n]), asMap: null, all };
  }
  return { asList: null, asMap: map, all };
}

function uniqueNames(names) {
  const seen = {};
  return names.map((n) => {
    if (!(n in seen)) {
      seen[n] = 0;
      return n;
    }
    seen[n] += 1;
    return `${n}_${seen[n]}`;
  });
}

async function inferOnce(model, kind, ins, req) {
  // Returns {names, tensors}
  if (kind === 'layers') {
    const x = ins.asList.length === 1 ? ins.asList[0] : ins.asList;
    let y = model.predict(x);
    y = Array.isArray(y) ? y : [y];
    return { names: uniqueNames(layersIONames(model, 'outputs')), tensors: y };
  }
  const names = req.outputs && req.outputs.length ? req.outputs.slice() : model.outputNodes.slice();
  const x = ins.asMap || ins.asList;
  let y = req.sync ? model.execute(x, names) : await model.executeAsync(x, names);
  y = Array.isArray(y) ? y : [y];
  if (y.length !== names.length) {
    throw new Error(`graph model returned ${y.length} tensors for ${names.length} requested outputs`);
  }
  return { names, tensors: y };
}

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function handleRun(req) {
  const kind = req.kind;
  const t0 = performance.now();
  const model = await loadModel(req.model_dir, kind);
  const loadMs = performance.now() - t0;
  try {
    if (req.op === 'info') {
      return { ok: true, kind, info: modelInfo(model, kind), load_ms: loadMs };
    }
    const ins = buildInputs(req.inputs, kind === 'layers' ? layersIONames(model, 'inputs') : null);
    try {
      const t1 = performance.now();
      const first = await inferOnce(model, kind, ins, req);
      const firstMs = performance.now() - t1;
      const outputs = {};
      let order = first.names;
      try {
        if (kind === 'layers' && req.outputs && req.outputs.length) {
          for (const n of req.outputs) {
            if (!first.names.includes(n)) {
              throw new Error(`output ${JSON.stringify(n)} is not one of the model outputs ${JSON.stringify(first.names)}`);
            }
          }
          order = req.outputs.slice();
        }
        first.names.forEach((n, i) => {
          if (order.includes(n)) outputs[n] = tensorToJSON(first.tensors[i], req.encoding);
        });
      } finally {
        first.tensors.forEach((t) => t.dispose());
      }
      const resp = { ok: true, outputs, output_order: order, load_ms: loadMs, run_ms: firstMs };
      const repeat = Math.max(0, Math.floor(Number(req.repeat) || 0));
      if (repeat > 1) {
        const times = [];
        for (let i = 0; i < repeat; i++) {
          const t2 = performance.now();
          const r = await inferOnce(model, kind, ins, req);
          r.tensors.forEach((t) => t.dataSync());
          times.push(performance.now() - t2);
          r.tensors.forEach((t) => t.dispose());
        }
        resp.first_run_ms = firstMs;
        resp.run_ms = median(times);
        resp.run_ms_all = times;
      }
      return resp;
    } finally {
      ins.all.forEach((t) => t.dispose());
    }
  } finally {
    model.dispose();
  }
}

async function handle(req) {
  const op = req.op || 'run';
  if (op === 'ping') {
    return { ok: true, versions: VERSIONS, backend: tf.getBackend(), num_tensors: tf.memory().numTensors };
  }
  if (op === 'run' || op === 'info') return handleRun(req);
  throw new Error(`unknown op ${JSON.stringify(op)}`);
}

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      send({ id: null, ok: false, error: `bad request line (not JSON): ${e.message}`, stack: '' });
      continue;
    }
    if (req.op === 'exit') {
      send({ id: req.id === undefined ? null : req.id, ok: true });
      break;
    }
    let resp;
    try {
      resp = await handle(req);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      resp = { ok: false, error: err.message || String(err), stack: err.stack || '' };
    }
    send({ id: req.id === undefined ? null : req.id, ...resp });
  }
  process.exitCode = 0;
}

process.on('unhandledRejection', (e) => {
  process.stderr.write(`[run_tfjs] unhandled rejection: ${e && e.stack ? e.stack : e}\n`);
});

main().catch((e) => {
  process.stderr.write(`[run_tfjs] fatal: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});

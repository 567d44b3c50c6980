/*
 * The benchmark itself, shared by Node (bench.js) and the browser (page.js): loads TF.js models,
 * builds their inputs, times inferences and profiles kernels. It only uses the TF.js API object it
 * is given, so the same code measures the npm packages in Node and the dist bundles in a page.
 *
 * api = {tf, loadGraphModel, loadLayersModel, now(): ms, log(text)}
 * request = {
 *   backend, runs, warmup, seed, profile (bool), return_outputs (bool),
 *   models: [{label, kind: "graph"|"layers", handler}]  (handler: a tf.io IOHandler or URL),
 *   inputs: {name: {dtype, shape, b64 | data}} | null   (given values; else seeded random values),
 *   shapes: {name: [dims]}                               (--input NAME=SHAPE overrides),
 * }
 * Result: see benchModels below. Errors the user can fix are thrown as BenchUsageError.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.tfjsLiteBench = factory();
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  class BenchUsageError extends Error {}

  // ------------------------------------------------------------------------------ inputs

  function base64ToBytes(b64) {
    if (typeof Buffer !== 'undefined') {
      const buf = Buffer.from(b64, 'base64');
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
    }
    const text = atob(b64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  function bytesToBase64(bytes) {
    if (typeof Buffer !== 'undefined') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    let text = '';
    const chunk = 0x8000;
    for (let i = 0; i < bytes.length; i += chunk) text += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
    return btoa(text);
  }

  function parseNumber(v) {
    if (typeof v === 'number') return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    throw new BenchUsageError(`not a number: ${JSON.stringify(v)}`);
  }

  function tensorFromSpec(tf, spec, name) {
    const dtype = spec.dtype || 'float32';
    if (dtype === 'string') return tf.tensor(spec.data.map(String), spec.shape, 'string');
    let values;
    if (spec.b64 != null) {
      const bytes = base64ToBytes(spec.b64);
      if (dtype === 'float32') values = new Float32Array(bytes.buffer);
      else if (dtype === 'int32') values = new Int32Array(bytes.buffer);
      else if (dtype === 'bool') values = bytes;
      else throw new BenchUsageError(`input ${name}: dtype ${dtype} cannot be fed to TF.js`);
    } else {
      values = spec.data.map(parseNumber);
    }
    return tf.tensor(values, spec.shape, dtype);
  }

  // mulberry32 + Box-Muller: the same seeded values in Node and every browser.
  function seededRandom(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6D2B79F5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function randomTensor(tf, dtype, shape, rand) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (dtype === 'int32') return tf.tensor(Int32Array.from({ length: size }, () => Math.floor(rand() * 5)), shape, 'int32');
    if (dtype === 'bool') return tf.tensor(Uint8Array.from({ length: size }, () => (rand() < 0.5 ? 1 : 0)), shape, 'bool');
    if (dtype === 'string') return tf.tensor(Array.from({ length: size }, () => ['a', 'b c', 'hello', 'world'][Math.floor(rand() * 4)]), shape, 'string');
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const u = 1 - rand();
      values[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    }
    return tf.tensor(values, shape, 'float32');
  }

  const stripPort = (name) => String(name).replace(/:0$/, '');

  // Signature key -> node name, so inputs given by signature key reach the right placeholder.
  function inputAliases(model, kind) {
    const aliases = {};
    if (kind === 'graph' && model.signature && model.signature.inputs) {
      for (const [key, info] of Object.entries(model.signature.inputs)) aliases[key] = stripPort(info.name);
    }
    return aliases;
  }

  // Inputs the caller feeds. A graph model's hash-table handles are placeholders too, but TF.js
  // fills them from the model's initializer (their signature entry has a resourceId).
  function modelInputs(model, kind) {
    const names = kind === 'layers' ? layersNames(model, 'inputs') : model.inputNodes.slice();
    const resources = new Set();
    if (kind === 'graph' && model.signature && model.signature.inputs) {
      for (const info of Object.values(model.signature.inputs)) {
        if (info.resourceId != null || info.dtype === 'DT_RESOURCE') resources.add(stripPort(info.name));
      }
    }
    return model.inputs.map((s, i) => ({
      name: names[i],
      shape: s.shape == null ? null : s.shape.map((d) => (d == null || d < 0 ? -1 : d)),
      dtype: s.dtype || 'float32',
    })).filter((info) => !resources.has(stripPort(info.name)) && info.dtype !== 'resource');
  }

  // Sequential models leave inputNames/outputNames empty: use the layers that make the tensors.
  function layersNames(model, which) {
    const own = which === 'inputs' ? model.inputNames : model.outputNames;
    const syms = model[which];
    if (own && own.length === syms.length) return own.slice();
    return syms.map((s) => (s.sourceLayer ? s.sourceLayer.name : s.name));
  }

  function findGiven(map, name, aliases) {
    if (!map) return undefined;
    if (name in map) return map[name];
    for (const [key, value] of Object.entries(map)) {
      if (stripPort(key) === name || aliases[key] === name) return value;
    }
    return undefined;
  }

  function resolveShape(info, override, notes) {
    if (override) {
      if (info.shape && override.length !== info.shape.length) {
        throw new BenchUsageError(`--input ${info.name}: shape [${override}] has rank ${override.length}, the model's input is [${info.shape}]`);
      }
      info.shape && info.shape.forEach((d, i) => {
        if (d >= 0 && d !== override[i]) {
          throw new BenchUsageError(`--input ${info.name}: shape [${override}] does not fit the model's input [${info.shape}] (dim ${i} is ${d})`);
        }
      });
      return override.slice();
    }
    if (info.shape == null) {
      throw new BenchUsageError(`input ${info.name} has an unknown shape; give it with --input ${info.name}=D0,D1,...`);
    }
    const dynamic = info.shape.map((d, i) => (d < 0 ? i : -1)).filter((i) => i > 0);
    if (dynamic.length) {
      const shown = info.shape.map((d) => (d < 0 ? '?' : d)).join(',');
      throw new BenchUsageError(`input ${info.name} has dynamic dims [${shown}]; give its shape with --input ${info.name}=${info.shape.map((d) => (d < 0 ? 'N' : d)).join(',')}`);
    }
    if (info.shape.length && info.shape[0] < 0) {
      notes.push(`input ${info.name}: batch dimension set to 1 (shape [${info.shape.map((d) => (d < 0 ? '?' : d))}]); use --input to choose another`);
      return [1].concat(info.shape.slice(1));
    }
    return info.shape.slice();
  }

  // One tensor per model input, in model order. Inputs made for the first model are reused for
  // the second (matched by name, else by position) so --compare feeds both the same values.
  function buildInputs(tf, model, kind, request, shared, notes) {
    const infos = modelInputs(model, kind);
    const aliases = inputAliases(model, kind);
    const rand = seededRandom(request.seed == null ? 0 : request.seed);
    const unknownShapes = Object.keys(request.shapes || {}).filter((k) => !infos.some((i) => i.name === k || aliases[k] === i.name || stripPort(k) === i.name));
    if (!shared && unknownShapes.length) {
      throw new BenchUsageError(`--input names ${unknownShapes.join(', ')} are not model inputs (the inputs are ${infos.map((i) => i.name).join(', ')})`);
    }
    const tensors = infos.map((info, index) => {
      if (shared) {
        const hit = shared.find((s) => s.name === info.name) || shared[index];
        const fits = hit && (info.shape == null || (info.shape.length === hit.tensor.shape.length &&
          info.shape.every((d, i) => d < 0 || d === hit.tensor.shape[i])) && info.dtype === hit.tensor.dtype);
        if (!fits) {
          throw new BenchUsageError(`the models take different inputs: ${info.name} [${info.shape}] ${info.dtype} has no counterpart` +
            (hit ? ` (${hit.name} is [${hit.tensor.shape}] ${hit.tensor.dtype})` : ''));
        }
        return hit.tensor;
      }
      const given = findGiven(request.inputs, info.name, aliases);
      if (request.inputs && given === undefined) {
        throw new BenchUsageError(`no value given for the model's input ${info.name} (the values given are for ${Object.keys(request.inputs).join(', ')})`);
      }
      if (given !== undefined) {
        return tensorFromSpec(tf, given, info.name);
      }
      const shape = resolveShape(info, findGiven(request.shapes, info.name, aliases), notes);
      return randomTensor(tf, info.dtype, shape, rand);
    });
    return infos.map((info, i) => ({ name: info.name, tensor: tensors[i] }));
  }

  // ------------------------------------------------------------------------------ running

  function outputNames(model, kind) {
    if (kind === 'layers') {
      const seen = {};
      return layersNames(model, 'outputs').map((n) => {
        seen[n] = (seen[n] || 0) + 1;
        return seen[n] > 1 ? `${n}_${seen[n] - 1}` : n;
      });
    }
    return model.outputNodes.slice();
  }

  // GraphModel.execute is faster but refuses control flow and dynamic-shape ops; like the TF.js
  // benchmark tools, try it once and fall back to executeAsync.
  async function chooseExecution(api, entry) {
    if (entry.kind === 'layers') return 'predict';
    const { tf } = api;
    try {
      tf.tidy(() => { entry.model.execute(entry.feed, entry.outputs); });
      return 'execute';
    } catch (e) {
      return 'executeAsync';
    }
  }

  async function inferOnce(entry) {
    let y;
    if (entry.execution === 'predict') {
      y = entry.model.predict(entry.feed.length === 1 ? entry.feed[0] : entry.feed);
    } else if (entry.execution === 'execute') {
      y = entry.model.execute(entry.feed, entry.outputs);
    } else {
      y = await entry.model.executeAsync(entry.feed, entry.outputs);
    }
    return Array.isArray(y) ? y : [y];
  }

  // One timed inference: run, then read every output back (what an application has to do).
  async function timedRun(api, entry, keep) {
    const t0 = api.now();
    const outs = await inferOnce(entry);
    const values = [];
    for (const t of outs) values.push(await t.data());
    const ms = api.now() - t0;
    const shapes = outs.map((t) => t.shape.slice());
    const dtypes = outs.map((t) => t.dtype);
    outs.forEach((t) => t.dispose());
    return keep ? { ms, values, shapes, dtypes } : { ms };
  }

  function stats(times) {
    if (!times.length) return null;
    const sorted = times.slice().sort((a, b) => a - b);
    const n = sorted.length;
    const mean = sorted.reduce((a, b) => a + b, 0) / n;
    const variance = sorted.reduce((a, b) => a + (b - mean) * (b - mean), 0) / n;
    const median = n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    return { count: n, mean, median, min: sorted[0], max: sorted[n - 1], std: Math.sqrt(variance) };
  }

  async function profileKernels(api, entry) {
    const { tf } = api;
    const info = await tf.profile(async () => {
      const outs = await inferOnce(entry);
      for (const t of outs) await t.data();
      outs.forEach((t) => t.dispose());
    });
    const byName = {};
    let timed = true;
    // tf.profile also records each op's scope ("conv2d__op"), whose time includes its kernels.
    const kernelRecords = info.kernels.filter((k) => !String(k.name).endsWith('__op'));
    for (const k of kernelRecords) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : NaN;
      if (!Number.isFinite(ms)) timed = false;
      const row = byName[k.name] || (byName[k.name] = { name: k.name, count: 0, ms: 0 });
      row.count += 1;
      row.ms += Number.isFinite(ms) ? ms : 0;
    }
    const kernels = Object.values(byName).sort((a, b) => b.ms - a.ms || b.count - a.count);
    return {
      peak_bytes: info.peakBytes,
      new_tensors: info.newTensors,
      new_bytes: info.newBytes,
      kernel_count: kernelRecords.length,
      kernel_times: timed,
      kernels,
    };
  }

  function maxDifference(a, b) {
    // Largest |a - b| over outputs matched by position; NaN on one side only is Infinity.
    const perOutput = [];
    const n = Math.min(a.values.length, b.values.length);
    for (let i = 0; i < n; i++) {
      const x = a.values[i];
      const y = b.values[i];
      if (x.length !== y.length || String(a.shapes[i]) !== String(b.shapes[i])) {
        perOutput.push({ index: i, error: `shapes differ: [${a.shapes[i]}] vs [${b.shapes[i]}]` });
        continue;
      }
      let worst = 0;
      let scale = 0;
      for (let j = 0; j < x.length; j++) {
        const p = Number(x[j]);
        const q = Number(y[j]);
        if (Number.isNaN(p) && Number.isNaN(q)) continue;
        if (p === q) { if (Number.isFinite(q)) scale = Math.max(scale, Math.abs(q)); continue; }
        const d = Math.abs(p - q);
        worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
        if (Number.isFinite(q)) scale = Math.max(scale, Math.abs(q));
      }
      perOutput.push({ index: i, max_abs: worst, max_rel: worst / Math.max(scale, 1e-6) });
    }
    return perOutput;
  }

  function encodeOutputs(names, first) {
    const out = {};
    first.values.forEach((v, i) => {
      const spec = { dtype: first.dtypes[i], shape: first.shapes[i] };
      if (first.dtypes[i] === 'string') spec.data = Array.from(v, String);
      else spec.b64 = bytesToBase64(first.dtypes[i] === 'bool' ? Uint8Array.from(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      out[names[i] || `output_${i}`] = spec;
    });
    return out;
  }

  async function benchModels(api, request) {
    const { tf } = api;
    const runs = Math.max(0, Math.floor(request.runs));
    const warmup = Math.max(0, Math.floor(request.warmup));
    const notes = [];
    const entries = [];
    const baseTensors = tf.memory().numTensors;
    let shared = null;
    try {
      for (const spec of request.models) {
        api.log(`loading ${spec.label} (${spec.kind} model) on ${tf.getBackend()}`);
        const bytesBefore = tf.memory().numBytes;
        const t0 = api.now();
        const model = spec.kind === 'layers' ? await api.loadLayersModel(spec.handler) : await api.loadGraphModel(spec.handler);
        const loadMs = api.now() - t0;
        const entry = { label: spec.label, kind: spec.kind, model, load_ms: loadMs, weights_bytes: tf.memory().numBytes - bytesBefore };
        entries.push(entry);
        const inputs = buildInputs(tf, model, spec.kind, request, shared, notes);
        shared = shared || inputs;
        entry.inputs = inputs.map((i) => ({ name: i.name, shape: i.tensor.shape.slice(), dtype: i.tensor.dtype }));
        entry.feed = entry.kind === 'layers' ? inputs.map((i) => i.tensor) : Object.fromEntries(inputs.map((i) => [i.name, i.tensor]));
        entry.outputs = outputNames(model, spec.kind);
        entry.times = [];
      }
      const tensorsBeforeRuns = tf.memory().numTensors;
      // First inference: shader compilation, texture creation, wasm warm-up; timed on its own.
      for (const entry of entries) {
        const t0 = api.now();
        let first;
        try {
          entry.execution = await chooseExecution(api, entry);
          first = await timedRun(api, entry, true);
        } catch (e) {
          if (entries.length > 1 && e instanceof Error) e.message = `${entry.label} model: ${e.message}`;
          throw e;
        }
        entry.first_ms = api.now() - t0;
        entry.first = first;
        if (warmup === 0) entry.times.push(first.ms);
      }
      // Tensors the first inference keeps (hash tables filled on first use, for example) are
      // state, not a leak; a leak is what keeps growing with every further run.
      const tensorsAfterFirst = tf.memory().numTensors;
      // Warm-up runs after the first (which counts as warm-up 1) are discarded.
      for (let i = 1; i < warmup; i++) for (const entry of entries) await timedRun(api, entry, false);
      // Timed runs, interleaved: each round runs every model once, the order reversed every other
      // round so neither model always runs right after the other.
      const timedCount = warmup === 0 ? runs - 1 : runs;
      for (let i = 0; i < timedCount; i++) {
        const order = i % 2 ? entries.slice().reverse() : entries;
        for (const entry of order) entry.times.push((await timedRun(api, entry, false)).ms);
      }
      const leaked = tf.memory().numTensors - tensorsAfterFirst;
      const profiles = [];
      for (const entry of entries) profiles.push(request.profile === false ? null : await profileKernels(api, entry));
      const result = {
        backend: tf.getBackend(),
        tfjs_version: tf.version_core,
        runs,
        warmup,
        notes,
        models: entries.map((entry, i) => ({
          label: entry.label,
          kind: entry.kind,
          execution: entry.execution,
          inputs: entry.inputs,
          outputs: entry.outputs.map((name, k) => ({ name, shape: entry.first.shapes[k], dtype: entry.first.dtypes[k] })),
          load_ms: entry.load_ms,
          first_ms: entry.first_ms,
          times_ms: entry.times,
          stats: stats(entry.times),
          weights_bytes: entry.weights_bytes,
          profile: profiles[i],
        })),
        leaked_tensors: leaked,
        kept_by_first_inference: tensorsAfterFirst - tensorsBeforeRuns,
        memory_after_runs: tf.memory(),
      };
      if (entries.length === 2) {
        const [a, b] = entries;
        // Runs i of both models are neighbours in time, so a burst of load from other processes
        // hits both; the median of the per-round ratios is steadier than the ratio of medians.
        const paired = a.times.map((t, i) => t / b.times[i]).filter((r) => Number.isFinite(r));
        const pairedStats = stats(paired);
        result.compare = {
          speed_ratio: pairedStats ? pairedStats.median : null,
          median_ratio: result.models[0].stats && result.models[1].stats ? result.models[0].stats.median / result.models[1].stats.median : null,
          differences: maxDifference(a.first, b.first).map((d) => Object.assign({ name: a.outputs[d.index] }, d)),
        };
      }
      if (request.return_outputs) result.outputs = encodeOutputs(entries[0].outputs, entries[0].first);
      return result;
    } finally {
      for (const entry of entries) entry.model.dispose();
      if (shared) shared.forEach((i) => i.tensor.dispose());
      api.log(`tensors left after dispose: ${tf.memory().numTensors - baseTensors}`);
    }
  }

  return { benchModels, BenchUsageError, stats, seededRandom };
}));

#!/usr/bin/env node
'use strict';
/*
 * `tfjs-lite bench` / `verify --runtime tfjs` in Node: one request (JSON) on stdin, one result
 * (JSON) on stdout; progress and TF.js's own messages go to stderr. Run with NODE_PATH (or cwd)
 * pointing at a node_modules that holds the pinned @tensorflow packages (see tfjs_lite/js/package.json).
 *
 * request: as for bench_core.js, with models[i].dir (a model folder) instead of a handler, and
 * backend "cpu" | "wasm". Response: {"ok": true, "result": ...} or {"ok": false, "usage": bool, "error"}.
 */

const realStdoutWrite = process.stdout.write.bind(process.stdout);
const toStderr = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
console.log = toStderr;
console.info = toStderr;
console.warn = toStderr;

const fs = require('fs');
const path = require('path');

const core = require('./bench_core.js');

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

// The folder loader tf.io.http would be on a server: model.json, then every shard it lists.
function folderHandler(tf, dir) {
  const within = (p) => {
    const full = path.resolve(dir, p);
    if (path.relative(dir, full).startsWith('..')) throw new core.BenchUsageError(`model.json in ${dir} lists a weight file outside its folder: ${p}`);
    return full;
  };
  return {
    async load() {
      const file = path.join(dir, 'model.json');
      if (!fs.existsSync(file)) throw new core.BenchUsageError(`no model.json in ${dir}`);
      let modelJSON;
      try {
        modelJSON = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        throw new core.BenchUsageError(`${file} is not valid JSON: ${e.message}`);
      }
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const buffers = [];
        for (const group of manifest) {
          for (const p of group.paths || []) {
            const full = within(p);
            if (!fs.existsSync(full)) throw new core.BenchUsageError(`weight file ${p} listed in ${file} is missing`);
            const buf = fs.readFileSync(full);
            buffers.push(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
          }
        }
        return [tf.io.getWeightSpecs(manifest), buffers];
      });
    },
  };
}

async function setBackend(tf, name) {
  if (name === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    // The .wasm binaries ship in the npm package; point at them so nothing is fetched.
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dist + path.sep);
  } else if (name !== 'cpu') {
    throw new core.BenchUsageError(`backend ${name} is not available in Node (use cpu or wasm, or --browser)`);
  }
  if (!(await tf.setBackend(name))) throw new Error(`TF.js could not initialise the ${name} backend`);
  await tf.ready();
}

async function main() {
  const request = JSON.parse(await readStdin());
  const tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  const tfc = require('@tensorflow/tfjs-converter');
  const tfl = require('@tensorflow/tfjs-layers');
  await setBackend(tf, request.backend || 'cpu');
  const api = {
    tf,
    loadGraphModel: (h) => tfc.loadGraphModel(h),
    loadLayersModel: (h) => tfl.loadLayersModel(h),
    now: () => performance.now(),
    log: (text) => process.stderr.write(`bench: ${text}\n`),
  };
  request.models = request.models.map((m) => Object.assign({}, m, { handler: folderHandler(tf, path.resolve(m.dir)) }));
  const result = await core.benchModels(api, request);
  result.runtime = { node: process.version, platform: process.platform, arch: process.arch };
  return result;
}

main().then(
  (result) => {
    realStdoutWrite(JSON.stringify({ ok: true, result }) + '\n');
  },
  (e) => {
    const usage = e instanceof core.BenchUsageError;
    realStdoutWrite(JSON.stringify({ ok: false, usage, error: e && e.message ? e.message : String(e), stack: e && e.stack }) + '\n');
    process.exitCode = usage ? 2 : 1;
  },
);

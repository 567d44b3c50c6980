/*
 * The benchmark page: the same measurement as `tfjs-lite bench` (bench_core.js) in a browser, with
 * the figures and a chart of per-run times. Driven two ways:
 *   - headless (`bench --browser`): tfjs-lite evaluates `tfjsLitePage.run(settings)` over the
 *     DevTools protocol and gets the result object back;
 *   - by a person (`bench --serve`): the Run button reads backend/runs/warm-up from the controls.
 * Everything (page, TF.js bundles, .wasm files, model) comes from the local tfjs-lite server.
 */
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const fmtMs = (v) => (v == null || !Number.isFinite(v) ? '—' : v < 1 ? v.toFixed(3) : v < 100 ? v.toFixed(2) : v.toFixed(0));
  const fmtBytes = (v) => (v == null ? '—' : v.toLocaleString('en-US'));
  let config = null;

  function log(text) {
    const el = $('log');
    if (el) el.textContent += text + '\n';
  }

  async function loadConfig() {
    if (!config) config = await (await fetch('config.json')).json();
    return config;
  }

  async function useBackend(name) {
    if (name === 'wasm') tf.wasm.setWasmPaths(new URL('tfjs/', location.href).href);
    if (name === 'webgpu' && !(navigator.gpu && await navigator.gpu.requestAdapter())) {
      throw new tfjsLiteBench.BenchUsageError('backend webgpu is not offered by this browser (no WebGPU adapter)');
    }
    let ok = false;
    try {
      ok = await tf.setBackend(name);
      await tf.ready();
    } catch (e) {
      ok = false;
    }
    if (!ok || tf.getBackend() !== name) {
      throw new tfjsLiteBench.BenchUsageError(`backend ${name} is not available in this browser`);
    }
  }

  // settings: {backend, runs, warmup}; the rest (models, inputs, seed) comes from config.json.
  async function run(settings) {
    const cfg = await loadConfig();
    const s = Object.assign({}, cfg.settings, settings || {});
    await useBackend(s.backend);
    const api = {
      tf,
      loadGraphModel: (url) => tf.loadGraphModel(url),
      loadLayersModel: (url) => tf.loadLayersModel(url),
      now: () => performance.now(),
      log,
    };
    const request = Object.assign({}, cfg.request, { backend: s.backend, runs: s.runs, warmup: s.warmup });
    request.models = cfg.request.models.map((m) => Object.assign({}, m, { handler: new URL(m.url, location.href).href }));
    const result = await tfjsLiteBench.benchModels(api, request);
    result.runtime = { browser: navigator.userAgent };
    render(result);
    return result;
  }

  // Errors come back to tfjs-lite as values (a thrown error over the protocol loses its type).
  async function runForDriver(settings) {
    try {
      return { ok: true, result: await run(settings) };
    } catch (e) {
      return { ok: false, usage: e instanceof tfjsLiteBench.BenchUsageError, error: e && e.message ? e.message : String(e) };
    }
  }

  function cell(row, text, attrs) {
    const td = document.createElement('td');
    td.textContent = text;
    Object.entries(attrs || {}).forEach(([k, v]) => td.setAttribute(k, v));
    row.appendChild(td);
  }

  function render(result) {
    const table = $('figures');
    table.innerHTML = '';
    const head = table.insertRow();
    ['', ...result.models.map((m) => m.label)].forEach((t) => cell(head, t));
    const rows = [
      ['load (ms)', 'load', (m) => fmtMs(m.load_ms)],
      ['first inference (ms)', 'first', (m) => fmtMs(m.first_ms)],
      ['execution', 'execution', (m) => m.execution],
      ['warm-up runs discarded', 'warmup', () => String(result.warmup)],
      ['timed runs', 'runs', (m) => String(m.stats ? m.stats.count : 0)],
      ['mean (ms)', 'mean', (m) => fmtMs(m.stats && m.stats.mean)],
      ['median (ms)', 'median', (m) => fmtMs(m.stats && m.stats.median)],
      ['min (ms)', 'min', (m) => fmtMs(m.stats && m.stats.min)],
      ['max (ms)', 'max', (m) => fmtMs(m.stats && m.stats.max)],
      ['std (ms)', 'std', (m) => fmtMs(m.stats && m.stats.std)],
      ['weights (bytes)', 'weights', (m) => fmtBytes(m.weights_bytes)],
      ['peak memory (bytes)', 'peak', (m) => fmtBytes(m.profile && m.profile.peak_bytes)],
    ];
    for (const [label, key, fn] of rows) {
      const row = table.insertRow();
      cell(row, label);
      result.models.forEach((m, i) => cell(row, fn(m), { 'data-figure': key, 'data-model': String(i) }));
    }
    $('summary').textContent = `TF.js ${result.tfjs_version}, backend ${result.backend}; leaked tensors: ${result.leaked_tensors}` +
      (result.compare ? `; speed ratio ${result.compare.speed_ratio == null ? '—' : result.compare.speed_ratio.toFixed(3)} ` +
        '(median of per-run ratios), largest output difference ' +
        Math.max(...result.compare.differences.map((d) => (d.max_abs == null ? Infinity : d.max_abs))).toExponential(2) : '') +
      (result.notes.length ? '. ' + result.notes.join('; ') : '');
    $('summary').dataset.leaked = String(result.leaked_tensors);
    $('summary').dataset.backend = result.backend;
    renderKernels(result);
    renderChart(result);
    $('status').textContent = 'done';
    $('status').dataset.state = 'done';
  }

  function renderKernels(result) {
    const table = $('kernels');
    table.innerHTML = '';
    const m = result.models[0];
    if (!m.profile) return;
    const head = table.insertRow();
    ['kernel', 'calls', 'ms (one profiled run)'].forEach((t) => cell(head, t));
    for (const k of m.profile.kernels.slice(0, 10)) {
      const row = table.insertRow();
      cell(row, k.name);
      cell(row, String(k.count));
      cell(row, m.profile.kernel_times ? fmtMs(k.ms) : 'n/a');
    }
  }

  // Per-run times as an inline SVG line chart, one line per model.
  function renderChart(result) {
    const W = 640;
    const H = 220;
    const pad = 40;
    const all = result.models.flatMap((m) => m.times_ms);
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', W);
    svg.setAttribute('height', H);
    svg.setAttribute('id', 'chart-svg');
    const maxY = Math.max(...all, 1e-3);
    const maxX = Math.max(...result.models.map((m) => m.times_ms.length), 2) - 1;
    const x = (i) => pad + (i / Math.max(maxX, 1)) * (W - 2 * pad);
    const y = (v) => H - pad - (v / maxY) * (H - 2 * pad);
    const add = (tag, attrs, text) => {
      const el = document.createElementNS(ns, tag);
      Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
      if (text != null) el.textContent = text;
      svg.appendChild(el);
      return el;
    };
    add('line', { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: '#888' });
    add('line', { x1: pad, y1: pad, x2: pad, y2: H - pad, stroke: '#888' });
    add('text', { x: 2, y: pad, 'font-size': 11 }, fmtMs(maxY) + ' ms');
    add('text', { x: 2, y: H - pad, 'font-size': 11 }, '0');
    add('text', { x: W / 2 - 30, y: H - 8, 'font-size': 11 }, 'timed run #');
    const colours = ['#1f77b4', '#d62728'];
    result.models.forEach((m, k) => {
      const points = m.times_ms.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      add('polyline', { points, fill: 'none', stroke: colours[k % 2], 'stroke-width': 1.5, 'data-series': m.label, 'data-points': String(m.times_ms.length) });
      add('text', { x: W - pad - 120, y: pad + 14 * k, 'font-size': 12, fill: colours[k % 2] }, m.label);
    });
    const holder = $('chart');
    holder.innerHTML = '';
    holder.appendChild(svg);
  }

  async function onRunClicked() {
    const button = $('run');
    button.disabled = true;
    $('status').textContent = 'running ...';
    $('status').dataset.state = 'running';
    $('error').textContent = '';
    const outcome = await runForDriver({
      backend: $('backend').value,
      runs: Number($('runs').value),
      warmup: Number($('warmup').value),
    });
    if (!outcome.ok) {
      $('error').textContent = outcome.error;
      $('status').textContent = 'failed';
      $('status').dataset.state = 'failed';
    }
    button.disabled = false;
  }

  async function init() {
    const cfg = await loadConfig();
    $('model').textContent = cfg.request.models.map((m) => `${m.label}: ${m.path} (${m.kind} model)`).join(' vs ');
    $('backend').value = cfg.settings.backend;
    $('runs').value = cfg.settings.runs;
    $('warmup').value = cfg.settings.warmup;
    $('run').addEventListener('click', onRunClicked);
    $('status').textContent = 'ready';
    $('status').dataset.state = 'ready';
  }

  window.tfjsLitePage = { run, runForDriver, ready: init() };
}());

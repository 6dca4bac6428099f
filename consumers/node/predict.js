#!/usr/bin/env node
// A second runtime for a bwkit run's model: builds the input from raw telemetry rows following
// only the run's metadata JSON (its "recipe" and "intervals"), runs the ONNX file with
// onnxruntime-node, and prints one JSON object per window. No Python, no bwkit.
//
//   node predict.js <model.onnx> <model_metadata.json> <rows.json | rows.csv>
//
// rows.json: an array of objects as the CSV rows had them ({"timestamp": ..., "<column>": ...});
// rows.csv: a plain CSV (comma-separated, no quoted fields). Output (stdout): a JSON array of
// {"timestamp": <unix seconds of the predicted row>, "<target>_pred": ..., "<target>_lower_80": ...}.
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

function readRows(path) {
  const text = fs.readFileSync(path, 'utf8');
  if (path.endsWith('.json')) return JSON.parse(text);
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const names = lines[0].replace(/^\uFEFF/, '').split(',');
  return lines.slice(1).map((line) => {
    const fields = line.split(',');
    return Object.fromEntries(names.map((name, i) => [name, fields[i]]));
  });
}

// A number, or NaN for an empty or missing field (the loader's "missing").
function value(raw) {
  if (raw === null || raw === undefined || raw === '') return NaN;
  return typeof raw === 'number' ? raw : Number(raw);
}

// Unix seconds: numbers (milliseconds when their median is above 1e11) or ISO 8601 (UTC when no offset).
function unixSeconds(rows) {
  const raw = rows.map((row) => row.timestamp);
  if (raw.every((t) => typeof t === 'number' || (t !== '' && !Number.isNaN(Number(t))))) {
    const seconds = raw.map(Number);
    const sorted = seconds.map(Math.abs).sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return median > 1e11 ? seconds.map((t) => t / 1000) : seconds;
  }
  return raw.map((t) => {
    const text = String(t).trim().replace(' ', 'T');
    const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(text) ? text : `${text}Z`;
    return Date.parse(zoned) / 1000;
  });
}

// The recipe's fill: within a trace, the last valid value forward; a trace's first rows, its first
// valid value; a trace with none, 0.
function fillGaps(values, trace) {
  const out = values.slice();
  let start = 0;
  while (start < values.length) {
    let end = start;
    while (end < values.length && trace[end] === trace[start]) end += 1;
    let last = NaN;
    for (let i = start; i < end; i += 1) {
      if (Number.isFinite(values[i])) last = values[i];
      out[i] = last;
    }
    const first = out.slice(start, end).find(Number.isFinite);
    for (let i = start; i < end && !Number.isFinite(out[i]); i += 1) out[i] = first === undefined ? 0 : first;
    start = end;
  }
  return out;
}

function hourAndWeekday(t) {
  return [Math.floor((((t % 86400) + 86400) % 86400) / 3600), (((Math.floor(t / 86400) + 3) % 7) + 7) % 7];
}

// Input channels per row, following recipe.derivation; nextTime[i] is row i's next row's time.
function channels(recipe, columns, nextTime, trace) {
  const filled = {};
  for (const name of recipe.flagged) filled[name] = fillGaps(columns[name], trace);
  return nextTime.map((t, i) => {
    const [hour, weekday] = hourAndWeekday(t);
    return recipe.derivation.map((d) => {
      if (d.kind === 'value') return d.filled ? filled[d.column][i] : columns[d.column][i];
      if (d.kind === 'missing_flag') return Number.isFinite(columns[d.column][i]) ? 0 : 1;
      if (d.kind === 'next_hour') return hour === d.equals ? 1 : 0;
      return weekday === d.equals ? 1 : 0;
    });
  });
}

function std(xs) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
}

async function main([onnxPath, metaPath, rowsPath]) {
  const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
  const recipe = meta.recipe;
  const w = recipe.window_size;
  const rows = readRows(rowsPath).map((row) => {
    const canonical = { ...row };
    for (const [alias, name] of Object.entries(recipe.aliases)) {
      if (!(name in canonical) && alias in canonical) canonical[name] = canonical[alias];
    }
    return canonical;
  });
  const time = unixSeconds(rows);
  const trace = rows.map((row) => String(row.trace_id ?? ''));
  const columns = Object.fromEntries(recipe.columns.map((c) => [c, rows.map((row) => value(row[c]))]));
  // A window never spans a new trace or a step longer than max_gap_cadences x cadence_seconds.
  const maxStep = recipe.max_gap_cadences * recipe.cadence_seconds;
  const segment = [0];
  for (let i = 1; i < rows.length; i += 1) {
    const cut = trace[i] !== trace[i - 1] || time[i] - time[i - 1] > maxStep;
    segment.push(segment[i - 1] + (cut ? 1 : 0));
  }
  // The row a window ending here predicts: the next row of its segment where the rows hold it, else one cadence on.
  const nextTime = time.map((t, i) => (i + 1 < rows.length && segment[i + 1] === segment[i]
    ? time[i + 1] : t + recipe.cadence_seconds));
  const X = channels(recipe, columns, nextTime, trace); // a window's last row: the predicted row's calendar
  const ends = [];
  for (let e = w - 1; e < rows.length; e += 1) if (segment[e - w + 1] === segment[e]) ends.push(e);

  const f = recipe.features.length;
  const input = new Float32Array(ends.length * w * f);
  ends.forEach((e, k) => {
    for (let s = 0; s < w; s += 1) {
      input.set(X[e - w + 1 + s], (k * w + s) * f);
    }
  });
  const session = await ort.InferenceSession.create(onnxPath);
  const result = await session.run({ [meta.input.name]: new ort.Tensor('float32', input, [ends.length, w, f]) });
  const output = result[meta.output.name].data;

  const bands = meta.intervals;
  const out = ends.map((e, k) => {
    const entry = { timestamp: nextTime[e] };
    recipe.targets.forEach((t, j) => { entry[`${t}_pred`] = output[k * recipe.targets.length + j]; });
    for (const level of bands ? bands.levels : []) {
      const key = String(level);          // the metadata's keys are Python's "%g" of the level
      recipe.targets.forEach((t, j) => {
        let scale = bands.scale.base[t];
        if (bands.scale.window_std[t]) {
          const c = recipe.features.indexOf(bands.scale.columns[t]);
          scale += std(Array.from({ length: w }, (_, s) => Math.fround(X[e - w + 1 + s][c])));
        }
        const half = bands.multiplier[key][t] * scale;
        const pct = String(Math.round(level * 1000) / 10);
        entry[`${t}_lower_${pct}`] = entry[`${t}_pred`] - half;
        entry[`${t}_upper_${pct}`] = entry[`${t}_pred`] + half;
      });
    }
    return entry;
  });
  process.stdout.write(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`predict.js: ${error.message}`);
  process.exit(1);
});

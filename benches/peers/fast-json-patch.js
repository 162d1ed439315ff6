#!/usr/bin/env node
// The npm peer of benches/diff_engine.rs: times `JSON.parse` apart from fast-json-patch's
// `compare` (its RFC 6902 generator) on the pairs the benchmark wrote.
//
//   node benches/peers/fast-json-patch.js <pairs dir> [--modules DIR] [--seconds S] [--min-iterations N]
//
// <pairs dir> holds one folder per set, each with `from.ndjson` and `to.ndjson`: one compact JSON
// object per line, line i of one file paired with line i of the other. Reading the files and
// splitting the lines is not timed. Per set, one iteration of `parse` is JSON.parse of every line
// of both files; one iteration of `compare` is compare(from[i], to[i]) for every pair, on objects
// parsed once before. Each is warmed up, then repeated for at least --seconds (default 2) and at
// least --min-iterations (default 5) times; the median iteration is reported. Output (stdout):
//
//   {"peer": "fast-json-patch", "version": "3.1.1", "node": "v20…", "sets": {
//     "<set>": {"pairs": 150, "bytes": 29000000, "iterations": {"parse": 12, "compare": 40},
//               "parse_ns": 1.2e8, "compare_ns": 3.0e7, "operations": 5200}}}
//
// --modules is the node_modules folder holding fast-json-patch (default: .cache/bench-peers/
// node_modules at the workspace root, where benches/peers/install.sh puts it).
'use strict';

const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function usage(message) {
  process.stderr.write(`fast-json-patch.js: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let dir = null;
let modules = path.join(__dirname, '..', '..', '.cache', 'bench-peers', 'node_modules');
let seconds = 2;
let minIterations = 5;
for (let i = 0; i < args.length; i++) {
  const value = () => (i + 1 < args.length ? args[++i] : usage(`${args[i]} needs a value`));
  switch (args[i]) {
    case '--modules': modules = value(); break;
    case '--seconds': seconds = Number(value()); break;
    case '--min-iterations': minIterations = Number(value()); break;
    default:
      if (args[i].startsWith('--') || dir !== null) usage(`unexpected argument ${args[i]}`);
      dir = args[i];
  }
}
if (dir === null) usage('missing the pairs folder');
if (!(seconds >= 0) || !(minIterations >= 1)) usage('--seconds and --min-iterations must be positive');

const load = createRequire(path.join(path.resolve(modules), 'package.json'));
const jsonpatch = load('fast-json-patch');
const version = load('fast-json-patch/package.json').version;

/** Median wall time in ns of `run()`, after one untimed warm-up call. */
function measure(run) {
  run();
  const times = [];
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  while (times.length < minIterations || process.hrtime.bigint() < deadline) {
    const start = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - start));
  }
  times.sort((a, b) => a - b);
  return { ns: times[Math.floor(times.length / 2)], iterations: times.length };
}

function lines(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0);
}

const sets = {};
for (const name of fs.readdirSync(dir).sort()) {
  const from = lines(path.join(dir, name, 'from.ndjson'));
  const to = lines(path.join(dir, name, 'to.ndjson'));
  if (from.length !== to.length) usage(`${name}: ${from.length} objects before, ${to.length} after`);
  const bytes = [...from, ...to].reduce((sum, line) => sum + Buffer.byteLength(line), 0);

  let sink = 0;
  const parse = measure(() => {
    for (let i = 0; i < from.length; i++) {
      sink += JSON.parse(from[i]) === null ? 1 : 0;
      sink += JSON.parse(to[i]) === null ? 1 : 0;
    }
  });
  const before = from.map((line) => JSON.parse(line));
  const after = to.map((line) => JSON.parse(line));
  let operations = 0;
  const compare = measure(() => {
    operations = 0;
    for (let i = 0; i < before.length; i++) {
      operations += jsonpatch.compare(before[i], after[i]).length;
    }
  });
  if (sink < 0) process.stderr.write('unreachable\n');
  sets[name] = {
    pairs: from.length,
    bytes,
    iterations: { parse: parse.iterations, compare: compare.iterations },
    parse_ns: parse.ns,
    compare_ns: compare.ns,
    operations,
  };
}

process.stdout.write(`${JSON.stringify({ peer: 'fast-json-patch', version, node: process.version, sets })}\n`);

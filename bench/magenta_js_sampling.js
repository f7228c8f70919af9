// Times magenta.js MusicRNN.continueSequence (argmax) on a TF.js checkpoint folder, in Node.
//
//   NODE_PATH=DIR/node_modules node bench/magenta_js_sampling.js CHECKPOINT_DIR STEPS REPEATS
//
// DIR holds `npm install @magenta/music@1.23.1 @tensorflow/tfjs@2.8.6` (pure-JS CPU backend).
// bench/bench_sampling.py writes the checkpoint and runs this; it prints one JSON line:
// {"backend", "tfjs", "tokens_per_s" (best run, wall clock), "cpu_tokens_per_s" (best run, CPU
// time of this process), "runs" (wall-clock tokens/s of every run), "notes"}.
// The checkpoint is served from 127.0.0.1 (magenta.js fetches its files over HTTP).
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");

async function main() {
  const [folder, stepsArg, repeatsArg] = process.argv.slice(2);
  const steps = Number(stepsArg || 512);
  const repeats = Number(repeatsArg || 3);
  const server = http.createServer((req, res) => {
    const file = path.join(folder, path.basename(decodeURIComponent(req.url)));
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404);
        res.end();
      } else {
        res.writeHead(200);
        res.end(data);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  const tf = require("@tensorflow/tfjs");
  await tf.setBackend("cpu");
  const mm = require("@magenta/music/node/music_rnn");
  const model = new mm.MusicRNN(url);
  await model.initialize();
  server.close();

  // A 16-step primer: one sixteenth note per step, pitches 60..75 (inside 48..83).
  const notes = [];
  for (let i = 0; i < 16; i++) {
    notes.push({ pitch: 60 + i, quantizedStartStep: i, quantizedEndStep: i + 1 });
  }
  // A plain object: requiring @magenta/music/node/core pulls in Tone.js's ESM build, which
  // Node cannot load from CommonJS; continueSequence reads only these fields.
  const primer = { notes, quantizationInfo: { stepsPerQuarter: 4 }, totalQuantizedSteps: 16 };

  await model.continueSequence(primer, 8); // warm-up
  const runs = [];
  const cpuRuns = [];
  let result = null;
  for (let r = 0; r < repeats; r++) {
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    result = await model.continueSequence(primer, steps);
    const cpu = process.cpuUsage(cpuStart);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    runs.push(steps / seconds);
    cpuRuns.push(steps / ((cpu.user + cpu.system) / 1e6));
  }
  model.dispose();
  console.log(
    JSON.stringify({
      backend: tf.getBackend(),
      tfjs: tf.version.tfjs,
      tokens_per_s: Math.max(...runs),
      cpu_tokens_per_s: Math.max(...cpuRuns),
      runs,
      notes: result.notes.length,
    })
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

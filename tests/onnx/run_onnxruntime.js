// Runs an exported model in onnxruntime (npm onnxruntime-node, CPU): reads a batch [N, 1, H, W] of float32 from a
// raw little-endian file, writes the outputs "logits" and "probabilities" as raw float32 files, and prints the
// runtime's version. Usage: node run_onnxruntime.js PACKAGE_DIR MODEL.onnx BATCH.f32 N H W OUT_PREFIX
'use strict';
const fs = require('fs');
const [packageDir, model, batchFile, n, h, w, outPrefix] = process.argv.slice(2);
const ort = require(packageDir);

(async () => {
  const session = await ort.InferenceSession.create(model, {executionProviders: ['cpu'], intraOpNumThreads: 1});
  const bytes = fs.readFileSync(batchFile);
  const pixels = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const input = new ort.Tensor('float32', pixels, [Number(n), 1, Number(h), Number(w)]);
  const outputs = await session.run({input});
  for (const name of ['logits', 'probabilities']) {
    const t = outputs[name];
    fs.writeFileSync(`${outPrefix}.${name}.f32`, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const version = require(packageDir + '/package.json').version;
  console.log(`onnxruntime-node ${version}: inputs ${session.inputNames}, outputs ${session.outputNames}, ` +
              `probabilities [${outputs.probabilities.dims}]`);
})().catch((e) => {
  console.error(`onnxruntime: ${String(e.message || e).split('\n')[0]}`);
  process.exit(1);
});

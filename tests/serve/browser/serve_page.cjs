// The page of mnist serve in Debian's chromium, driven by playwright-core (run by run_browser_tests.sh):
//  1. `mnist serve` with a digit model: mouse strokes drawing a 1 and a 0 on #draw are predicted as 1 and 0
//     (#prediction's data-label), the probabilities shown sum to 1, and once body[data-pending] is 'false' (the
//     finished drawing answered) `mnist predict MODEL CANVAS.png --json -` on the canvas saved as a PNG gives the
//     page's class and its ten probabilities to 1e-6; body[data-pending] is 'false' before anything is drawn; the
//     answer for a drawing cleared (and another drawn) while its request was in flight is never shown; the test
//     view shows images; screenshot WORK/serve.png.
//  2. `mnist train --serve`: the loss chart grows while the model trains; screenshot WORK/serve-training.png.
// Environment: MNIST_CLI, CHROMIUM, MNIST_DATA (a data directory of MNIST files), WORK (run/model.safetensors).
'use strict';
const { chromium } = require('playwright-core');
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const cli = process.env.MNIST_CLI, work = process.env.WORK;
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

// Starts mnist with args; resolves with {child, url} once it prints "serving http://...".
function startServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no serving line from mnist ${args.join(' ')}: ${out}`)), 60000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/serving (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1] }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`mnist exited ${code}: ${out}`)); });
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.removeAllListeners('exit');
    child.on('exit', (code, signal) => resolve(code === null ? 128 : code));
    child.kill('SIGINT');
  });
}

// A stroke through points given in the pad's own coordinates (0..280).
async function stroke(page, points) {
  const box = await page.locator('#draw').boundingBox();
  const at = ([x, y]) => [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280];
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 4 });
  await page.mouse.up();
}

// Waits until the page has answered everything drawn: no request in flight, none waiting (body[data-pending]) and
// the label set; then the page shows the prediction for the finished drawing.
async function settledPrediction(page) {
  await page.waitForFunction(() => document.body.dataset.pending === 'false' &&
                                   document.querySelector('#prediction').dataset.label !== '', null, { timeout: 15000 });
  return page.evaluate(() => {
    const el = document.querySelector('#prediction');
    const probabilities = [...document.querySelectorAll('#probabilities li')].map((li) => Number(li.dataset.probability));
    return { label: el.dataset.label, text: el.textContent, probabilities };
  });
}

async function drawAndPredict(page, name, points, want) {
  await page.click('#clear');
  await stroke(page, points);
  const got = await settledPrediction(page);
  const sum = got.probabilities.reduce((a, b) => a + b, 0);
  check(got.label === String(want), `a drawn ${name} is predicted as ${want} (got ${got.label}, "${got.text}")`);
  check(got.probabilities.length === 10 && Math.abs(sum - 1) < 1e-4, `the ten probabilities shown sum to 1 (${sum})`);
  // The canvas as a PNG file through `mnist predict`: the same class and probabilities as the page's.
  const png = path.join(work, `drawn-${name}.png`);
  const data = await page.evaluate(() => document.querySelector('#draw').toDataURL('image/png'));
  fs.writeFileSync(png, Buffer.from(data.split(',')[1], 'base64'));
  const cli_run = spawnSync(cli, ['predict', path.join(work, 'run', 'model.safetensors'), png, '--json', '-'],
                            { encoding: 'utf8' });
  let answer = {};
  try {
    answer = JSON.parse(cli_run.stdout)[0] || {};
  } catch (e) {
    answer = { error: String(e) };
  }
  const predicted = String(answer.predicted);
  const printed = answer.probabilities || [];
  const close = printed.length === 10 && printed.every((v, k) => Math.abs(v - got.probabilities[k]) <= 1e-6);
  check(predicted === got.label, `mnist predict --json on the canvas saved as a PNG gives the page's class (${predicted})`);
  check(close, `mnist predict --json gives the page's probabilities to 1e-6 ` +
               `(${JSON.stringify(printed)} vs ${JSON.stringify(got.probabilities)})`);
  return got;
}

// A drawing cleared, and another drawn, while its request is in flight (held by page.route until then): its answer is
// never shown, only the new drawing's (one prediction shown after the clear, and it is the final one).
async function clearWhileInFlight(page, zero, one) {
  await page.click('#clear');
  let arrived, release;
  const inFlight = new Promise((resolve) => { arrived = resolve; });
  const held = new Promise((resolve) => { release = resolve; });
  let first = true;
  await page.route('**/api/predict', async (route) => {
    if (first) {
      first = false;
      arrived();
      await held;
    }
    await route.continue();
  });
  try {
    await stroke(page, zero);
    await inFlight;
    await page.click('#clear');
    const before = await page.evaluate(() => Number(document.body.dataset.predictions || 0));
    await stroke(page, one);
    release();
    const got = await settledPrediction(page);
    const shown = await page.evaluate(() => Number(document.body.dataset.predictions || 0)) - before;
    check(shown === 1 && got.label === '1',
          `a drawing cleared while its request was in flight: its answer is not shown (${shown} shown, label ${got.label})`);
  } finally {
    release();
    await page.unroute('**/api/predict');
  }
}

async function main() {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  // 1. mnist serve
  const serve = await startServer(['serve', path.join(work, 'run', 'model.safetensors'), '--port', '0',
                                    '--data-dir', process.env.MNIST_DATA, '--dataset', 'mnist']);
  try {
    await page.goto(serve.url);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 15000 });
    const pending = await page.evaluate(() => document.body.dataset.pending);
    check(pending === 'false', `body[data-pending] is 'false' before anything is drawn (${pending})`);
    const zero = Array.from({ length: 41 }, (_, i) => {
      const a = (i / 40) * 2 * Math.PI;
      return [140 + 55 * Math.sin(a), 140 - 85 * Math.cos(a)];
    });
    const one = [[142, 45], [140, 140], [138, 235]];
    await clearWhileInFlight(page, zero, one);
    await drawAndPredict(page, '0', zero, 0);
    await drawAndPredict(page, '1', one, 1);
    const shown = await page.evaluate(() => document.querySelectorAll('#grid canvas').length);
    check(shown > 0, `the test view shows images (${shown})`);
    await page.screenshot({ path: path.join(work, 'serve.png') });
    check(errors.length === 0, `no JavaScript errors (${errors.join('; ')})`);
  } finally {
    check(await stopServer(serve.child) === 0, 'mnist serve exits 0 on SIGINT');
  }

  // 2. mnist train --serve: a run long enough to watch (stopped by SIGINT once the chart has grown; 5000 epochs so
  // that an idle machine does not finish it first, which would make the SIGINT stop the server with exit 0).
  const train = await startServer(['train', '--dataset', 'mnist', '--data-dir', process.env.MNIST_DATA,
                                   '--model', '784-256-relu-128-relu-10', '--batch-size', '16', '--epochs', '5000',
                                   '--out', path.join(work, 'run-live'), '--overwrite', '--serve', '0']);
  try {
    await page.goto(train.url);
    await page.waitForFunction(() => Number(document.querySelector('#loss-chart').dataset.points) > 0, null,
                               { timeout: 30000 });
    const first = await page.evaluate(() => Number(document.querySelector('#loss-chart').dataset.points));
    await page.waitForTimeout(1500);
    const later = await page.evaluate(() => Number(document.querySelector('#loss-chart').dataset.points));
    check(later > first, `the loss chart grows while training (${first} -> ${later} points)`);
    const progress = await page.evaluate(() => document.querySelector('#progress').textContent);
    check(/ETA/.test(progress), `progress and ETA shown ("${progress}")`);
    await stroke(page, [[142, 45], [140, 140], [138, 235]]);
    const got = await settledPrediction(page);
    check(got.probabilities.length === 10, `the canvas predicts with the weights being trained (label ${got.label})`);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(work, 'serve-training.png'), fullPage: true });
  } finally {
    check(await stopServer(train.child) === 130, 'train --serve interrupted by SIGINT exits 130, as train does');
  }
  await browser.close();
  if (failures) {
    console.log(`${failures} check(s) failed`);
    process.exit(1);
  }
  console.log('all browser checks passed');
}

main().catch((e) => { console.error(e); process.exit(1); });

// The page of mnist serve: draw on #draw, send the drawing as a PNG to POST /api/predict (the server preprocesses it
// exactly as `mnist predict IMAGE` does), show what the model saw, the probabilities and the prediction. With
// `mnist train --serve`, live charts from GET /api/events; with a model whose test set is on the machine, GET
// /api/test's confusion matrix and images.
'use strict';

const $ = (id) => document.getElementById(id);
let model = null;

// ---- drawing -------------------------------------------------------------------------------------------------
const pad = $('draw');
const ink = pad.getContext('2d');
// inked: the pad holds a drawing; unsent: the drawing (or the weights) changed since the last request was sent;
// generation: how many times the pad was cleared, so that an answer for a drawing cleared since it was sent (and maybe
// followed by a new one) is not shown.
let drawing = false, last = null, inked = false, unsent = false, inFlight = false, queued = false, generation = 0;

function clearPad() {
  ink.fillStyle = '#fff';
  ink.fillRect(0, 0, pad.width, pad.height);
  inked = unsent = false;
  ++generation;
  $('prediction').textContent = '–';
  $('prediction').dataset.label = '';
  $('message').textContent = 'draw a digit';
  showProbabilities(null);
  showInput(null);
}

function point(ev) {
  const r = pad.getBoundingClientRect();
  return { x: (ev.clientX - r.left) * pad.width / r.width, y: (ev.clientY - r.top) * pad.height / r.height };
}

function stroke(from, to) {
  ink.strokeStyle = '#000';
  ink.lineWidth = 18;  // about MNIST's stroke width once the digit is scaled to 20x20
  ink.lineCap = 'round';
  ink.lineJoin = 'round';
  ink.beginPath();
  ink.moveTo(from.x, from.y);
  ink.lineTo(to.x, to.y);
  ink.stroke();
  inked = unsent = true;
}

pad.addEventListener('pointerdown', (ev) => {
  drawing = true;
  pad.setPointerCapture(ev.pointerId);
  last = point(ev);
  stroke(last, last);
  ev.preventDefault();
});
pad.addEventListener('pointermove', (ev) => {
  if (!drawing) return;
  const p = point(ev);
  stroke(last, p);
  last = p;
  requestPrediction();
});
for (const type of ['pointerup', 'pointercancel']) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    requestPrediction();
  });
}
$('clear').addEventListener('click', clearPad);

// ---- predictions ---------------------------------------------------------------------------------------------
// One request at a time; strokes made meanwhile are sent once it returns.
// body[data-pending] is 'true' while a request is in flight or a newer drawing waits to be sent, so a reader (or the
// browser test) knows when the prediction shown is the one for the drawing as it stands.
function setPending() { document.body.dataset.pending = String(inFlight || queued); }

function requestPrediction() {
  if (!unsent) return;
  if (inFlight) { queued = true; setPending(); return; }
  inFlight = true;
  queued = false;
  unsent = false;  // strokes drawn from now on are sent once this request returns
  setPending();
  const drawn = generation;  // toBlob copies the pad as it is now
  pad.toBlob(async (blob) => {
    try {
      const res = await fetch('/api/predict', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: blob });
      const answer = await res.json();
      if (!res.ok) throw new Error(answer.error || res.statusText);
      if (inked && drawn === generation) showPrediction(answer);  // a pad cleared meanwhile shows nothing of it
    } catch (e) {
      if (drawn === generation) $('message').textContent = String(e.message || e);
    } finally {
      inFlight = false;
      const again = queued;
      queued = false;
      if (again) requestPrediction();
      setPending();
    }
  }, 'image/png');
}

function className(k) { return model && model.classes[k] !== undefined ? model.classes[k] : String(k); }

function showPrediction(answer) {
  const el = $('prediction');
  el.textContent = answer.class;
  el.dataset.label = String(answer.label);
  $('message').textContent = `probability ${answer.probabilities[answer.label].toFixed(4)}`;
  showProbabilities(answer.probabilities);
  showInput(answer.pixels);
  document.body.dataset.predictions = String(Number(document.body.dataset.predictions || 0) + 1);
}

function showInput(pixels) {
  const c = $('input'), g = c.getContext('2d');
  const img = g.createImageData(c.width, c.height);
  for (let i = 0; i < c.width * c.height; ++i) {
    const v = pixels ? pixels[i] : 0;
    img.data.set([v, v, v, 255], i * 4);
  }
  g.putImageData(img, 0, 0);
}

let probsChart = null;
function showProbabilities(p) {
  const n = model ? model.classes.length : 10;
  const values = p || new Array(n).fill(0);
  const list = $('probabilities');
  list.replaceChildren(...values.map((v, k) => {
    const li = document.createElement('li');
    li.dataset.probability = String(v);
    li.textContent = `${className(k)}: ${v.toFixed(4)}`;
    return li;
  }));
  if (!probsChart) return;
  probsChart.data.datasets[0].data = values;
  probsChart.update('none');
}

// ---- training (train --serve) -------------------------------------------------------------------------------
let lossChart = null, accuracyChart = null, run = null;

function lineChart(canvas, title, yOptions) {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
      plugins: { title: { display: true, text: title } },
      scales: { x: { type: 'linear', title: { display: true, text: 'epoch' } }, y: yOptions },
      elements: { point: { radius: 0 } },
    },
  });
}

function countPoints(chart) {
  chart.canvas.dataset.points = String(chart.data.datasets.reduce((s, d) => s + d.data.length, 0));
}

function follow() {
  $('training').hidden = false;
  lossChart = lineChart($('loss-chart'), 'Loss', { title: { display: true, text: 'cross-entropy' } });
  lossChart.data.datasets = [
    { label: 'batch loss', data: [], borderColor: '#9bb7e0', borderWidth: 1 },
    { label: 'train loss (epoch mean)', data: [], borderColor: '#1f4e9c', borderWidth: 2, pointRadius: 3 },
    { label: 'validation loss', data: [], borderColor: '#d9822b', borderWidth: 2, pointRadius: 3 },
  ];
  accuracyChart = lineChart($('accuracy-chart'), 'Validation accuracy', { min: 0, max: 1 });
  accuracyChart.data.datasets = [{ label: 'validation accuracy', data: [], borderColor: '#2a9d4b', borderWidth: 2, pointRadius: 3 }];
  const events = new EventSource('/api/events');
  events.addEventListener('start', (e) => {
    run = JSON.parse(e.data);
    $('status').textContent = `${run.model} on ${run.dataset}, ${run.epochs} epochs`;
  });
  events.addEventListener('batch', (e) => {
    const b = JSON.parse(e.data);
    lossChart.data.datasets[0].data.push({ x: b.epoch + (b.batch + 1) / b.batches, y: b.loss });
    lossChart.update('none');
    countPoints(lossChart);
    $('progress-bar').style.width = `${(100 * b.progress).toFixed(1)}%`;
    $('progress').textContent = `epoch ${b.epoch + 1}, batch ${b.batch + 1}/${b.batches}, loss ${b.loss.toFixed(4)}, ` +
      `${b.elapsed.toFixed(1)} s elapsed, ETA ${b.eta.toFixed(1)} s`;
    if (inked && !drawing) {  // the drawing's prediction follows the weights
      unsent = true;
      requestPrediction();
    }
  });
  events.addEventListener('epoch', (e) => {
    const s = JSON.parse(e.data);
    lossChart.data.datasets[1].data.push({ x: s.epoch + 1, y: s.train_loss });
    lossChart.data.datasets[2].data.push({ x: s.epoch + 1, y: s.val_loss });
    accuracyChart.data.datasets[0].data.push({ x: s.epoch + 1, y: s.val_accuracy });
    lossChart.update('none');
    accuracyChart.update('none');
    countPoints(lossChart);
    countPoints(accuracyChart);
  });
  events.addEventListener('done', (e) => {
    const d = JSON.parse(e.data);
    $('progress-bar').style.width = '100%';
    $('status').textContent += ` — done, test accuracy ${d.test_accuracy.toFixed(4)}`;
    $('progress').textContent = `trained in ${d.elapsed.toFixed(1)} s; the page now predicts with the trained model`;
    events.close();
  });
}

// ---- test set view -------------------------------------------------------------------------------------------
async function showTestSet() {
  const res = await fetch('/api/test');
  if (!res.ok) return;
  const t = await res.json();
  $('test').hidden = false;
  $('test-summary').textContent = `${t.dataset}: ${t.correct} of ${t.total} right (${(100 * t.accuracy).toFixed(2)}%)`;
  const table = $('confusion');
  const head = document.createElement('tr');
  head.append(document.createElement('th'), ...t.confusion.map((_, k) => {
    const th = document.createElement('th'); th.textContent = className(k); return th;
  }));
  table.replaceChildren(head, ...t.confusion.map((row, i) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th'); th.textContent = className(i);
    tr.append(th, ...row.map((v, j) => {
      const td = document.createElement('td'); td.textContent = v; if (i === j) td.className = 'diag'; return td;
    }));
    return tr;
  }));
  $('grid').replaceChildren(...t.samples.map((s) => {
    const fig = document.createElement('figure');
    if (s.label !== s.predicted) fig.className = 'wrong';
    const c = document.createElement('canvas');
    c.width = t.cols; c.height = t.rows;
    const bytes = Uint8Array.from(atob(s.pixels), (ch) => ch.charCodeAt(0));
    const g = c.getContext('2d'), img = g.createImageData(t.cols, t.rows);
    bytes.forEach((v, i) => img.data.set([v, v, v, 255], i * 4));
    g.putImageData(img, 0, 0);
    const cap = document.createElement('figcaption');
    // "8 - eight" -> "8": the grid's captions stay short; the full names are in the tooltip.
    const short = (k) => className(k).split(' - ')[0];
    cap.textContent = s.label === s.predicted ? short(s.label) : `${short(s.label)}→${short(s.predicted)}`;
    cap.title = `test image #${s.index}: ${className(s.label)}, predicted ${className(s.predicted)} ` +
      `(probability ${s.probability.toFixed(3)})`;
    fig.append(c, cap);
    return fig;
  }));
}

// ---- start ---------------------------------------------------------------------------------------------------
async function main() {
  model = await (await fetch('/api/model')).json();
  $('model').textContent = `${model.spec} · ${model.dataset || 'custom data'} · ${model.parameters.toLocaleString('en')} ` +
    `parameters · input ${model.input.join('×')}`;
  probsChart = new Chart($('probs-chart'), {
    type: 'bar',
    data: { labels: model.classes, datasets: [{ label: 'probability', data: [], backgroundColor: '#3a7bd5' }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { min: 0, max: 1 } },
               plugins: { legend: { display: false } } },
  });
  clearPad();
  if (model.training) follow();
  else showTestSet();
  document.body.dataset.ready = 'true';
}
main().catch((e) => { $('model').textContent = `cannot reach the server: ${e.message || e}`; });

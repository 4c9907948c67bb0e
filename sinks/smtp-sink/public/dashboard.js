// The sink's dashboard: one EventSource (/api/events), counters, a rate chart, recent messages and
// fault rules. Message data is attacker-controlled: it only ever reaches the page through textContent.
const MAX_ROWS = 50;
const POINTS = 300;

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const nf = new Intl.NumberFormat();
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

let rate = new Array(POINTS).fill(0);
let lastId = 0; // ids only grow within a sink process: skip what is shown (a snapshot rebuilds the table)
let rules = [];
/** Epoch second of the newest complete second in `rate`. */
let rateSecond = 0;

/** 1536 -> ['1.5', 'KiB'] */
function bytesParts(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return [i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0), units[i]];
}
const bytes = (n) => bytesParts(n).join(' ');

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

/** A cell that may be long: wraps, clipped after two lines, full value on hover. */
function clipped(text, className) {
  const td = el('td', undefined, className);
  td.append(el('span', text, 'clamp'));
  td.title = text;
  return td;
}

function setStatus(state) {
  const status = $('status');
  status.dataset.state = state;
  status.textContent = state;
  document.body.classList.toggle('stale', state !== 'live');
}

function showStats(s) {
  $('accepted').textContent = nf.format(s.accepted);
  $('rejected').textContent = nf.format(s.rejected);
  $('tempfailed').textContent = nf.format(s.tempfailed);
  $('connections').textContent = nf.format(s.connections);
  $('active').textContent = nf.format(s.activeConnections);
  const [amount, unit] = bytesParts(s.bytes);
  $('bytes').replaceChildren(amount, ' ', el('span', unit, 'unit'));
  $('rate').textContent = s.ratePerSecond.toLocaleString(undefined, { maximumFractionDigits: 1 });
  const since = $('since');
  since.dateTime = s.since;
  since.textContent = new Date(s.since).toLocaleString();
}

function messageRow(m) {
  const tr = el('tr');
  const at = new Date(m.receivedAt);
  const time = el('td');
  time.append(el('time', timeFmt.format(at)));
  time.firstChild.dateTime = m.receivedAt;
  const to = m.rcptTo.join(', ') + (m.rcptCount > m.rcptTo.length ? ` (+${m.rcptCount - m.rcptTo.length} more)` : '');
  tr.append(
    time,
    clipped(m.mailFrom || '<>'),
    clipped(to),
    m.subject === null ? el('td', '(no subject)', 'muted') : clipped(m.subject),
    m.run === null ? el('td', '–', 'muted') : clipped(m.run),
    el('td', bytes(m.size), 'num'),
    el('td', m.tls ? 'yes' : 'no', m.tls ? 'tls' : 'muted'),
    el('td', m.attempt, m.attempt > 1 ? 'num retry' : 'num'),
  );
  return tr;
}

/** Summaries arrive oldest first; the table shows newest first and keeps MAX_ROWS. */
function addMessages(list, fresh) {
  const body = $('messages');
  const frag = document.createDocumentFragment();
  for (const m of list.filter((x) => x.id > lastId).reverse()) {
    const tr = messageRow(m);
    if (fresh) tr.className = 'fresh';
    frag.append(tr);
    lastId = Math.max(lastId, m.id);
  }
  body.querySelector('.empty')?.remove();
  body.prepend(frag);
  while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
  if (!body.rows.length) body.append(emptyRow(8, 'Waiting for mail… send to this sink on its SMTP port.'));
}

function emptyRow(span, text) {
  const tr = el('tr', undefined, 'empty');
  const td = el('td', text, 'muted');
  td.colSpan = span;
  tr.append(td);
  return tr;
}

function showFaults(f) {
  rules = f.rules;
  $('fault-seed').textContent = rules.length ? `seed ${f.seed}` : '';
  const rows = rules.map((r) => {
    const match = Object.entries(r.match).map(([k, v]) => `${k}=${v}`).join(' ') || 'every message';
    const tr = el('tr');
    tr.dataset.rule = r.id;
    tr.append(
      clipped(r.id),
      clipped(match),
      el('td', r.action, 'action'),
      el('td', r.phase),
      el('td', `${Math.round(r.probability * 1000) / 10}%`, 'num'),
      el('td', nf.format(f.hits[r.id] ?? 0), 'num'),
    );
    if (r.message) tr.title = `reply text: ${r.message}`;
    return tr;
  });
  $('faults').replaceChildren(...(rows.length ? rows : [emptyRow(6, 'No runtime rules. Set some with PUT /api/faults.')]));
}

/** Places a tick's stamped seconds into the series: ticks drift against the clock, seconds do not. */
function mergeRate(second, recent) {
  recent.forEach((count, i) => {
    const s = second - recent.length + 1 + i;
    if (s > rateSecond) {
      for (let gap = rateSecond + 1; gap < s; gap++) rate.push(0);
      rate.push(count);
      rateSecond = s;
    } else if (rateSecond - s < rate.length) {
      rate[rate.length - 1 - (rateSecond - s)] = count;
    }
  });
  if (rate.length > POINTS) rate.splice(0, rate.length - POINTS);
}

/** Ticks carry the rules' hit counts; the rules themselves come with snapshots and `faults` events. */
function showHits(hits) {
  for (const row of $('faults').querySelectorAll('tr[data-rule]')) {
    const cell = row.lastElementChild;
    if (cell) cell.textContent = nf.format(hits[row.dataset.rule] ?? 0);
  }
}

// ---- the chart: bars per second, sized to its box in device pixels ----

const canvas = document.getElementById('rate-chart');
let drawQueued = false;

function queueDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    draw();
  });
}

function niceMax(n) {
  if (n <= 1) return 1;
  const step = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 2.5, 5, 10].map((k) => k * step).find((v) => v >= n);
}

function draw() {
  const dpr = window.devicePixelRatio || 1;
  const { width: cssW, height: cssH } = canvas.getBoundingClientRect();
  const w = Math.round(cssW * dpr);
  const h = Math.round(cssH * dpr);
  if (!w || !h) return;
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const css = getComputedStyle(canvas);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);

  const peak = Math.max(...rate);
  const max = niceMax(peak);
  const fontPx = parseFloat(css.fontSize);
  ctx.font = `${fontPx}px ${css.fontFamily}`;
  const ticks = [0, max / 2, max];
  const left = Math.max(...ticks.map((v) => ctx.measureText(nf.format(v)).width)) + 12;
  const top = fontPx * 0.8;
  const bottom = cssH - fontPx * 1.8;
  const plotW = cssW - left - 4;

  ctx.strokeStyle = css.getPropertyValue('--grid').trim();
  ctx.fillStyle = css.getPropertyValue('--axis').trim();
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of ticks) {
    const y = Math.round(bottom - (v / max) * (bottom - top)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + plotW, y);
    ctx.stroke();
    ctx.fillText(nf.format(v), left - 6, y);
  }
  ctx.textBaseline = 'top';
  for (let m = 5; m >= 0; m--) {
    ctx.textAlign = m === 5 ? 'left' : m === 0 ? 'right' : 'center';
    ctx.fillText(m ? `−${m} min` : 'now', left + plotW * (1 - m / 5), bottom + fontPx * 0.4);
  }

  ctx.fillStyle = css.getPropertyValue('--bar').trim();
  const barW = plotW / POINTS;
  rate.forEach((v, i) => {
    if (!v) return;
    const bh = Math.max(1, (v / max) * (bottom - top));
    ctx.fillRect(left + i * barW, bottom - bh, Math.max(1, barW - (barW > 3 ? 1 : 0)), bh);
  });
  canvas.setAttribute('aria-label', `Accepted messages per second over the last 5 minutes: peak ${nf.format(peak)}, last second ${nf.format(rate.at(-1))}`);
}

new ResizeObserver(queueDraw).observe(canvas);
window.addEventListener('resize', queueDraw); // also fires when zoom changes devicePixelRatio
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', queueDraw);

// ---- the event stream ----

function connect() {
  const source = new EventSource('/api/events');
  source.addEventListener('snapshot', (e) => {
    const d = JSON.parse(e.data);
    showStats(d.stats);
    // drop the current, partial second: the next tick's lastSecond is that second, complete
    rate = [...new Array(POINTS).fill(0), ...d.rate.slice(0, -1)].slice(-POINTS);
    rateSecond = d.second - 1;
    $('messages').replaceChildren();
    lastId = 0;
    addMessages([...d.recent].reverse(), false);
    showFaults(d.faults);
    setStatus('live');
    queueDraw();
  });
  source.addEventListener('tick', (e) => {
    const d = JSON.parse(e.data);
    showStats(d.stats);
    mergeRate(d.second, d.recentRate);
    addMessages(d.messages, true);
    showHits(d.hits);
    queueDraw();
  });
  source.addEventListener('faults', (e) => showFaults(JSON.parse(e.data)));
  source.addEventListener('error', () => {
    setStatus('reconnecting');
    // EventSource retries by itself unless the answer was not an event stream; then we retry
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
  });
}

connect();

// The sink's dashboard: one EventSource (/api/events), counters (the sink's and kumod's), a rate
// chart, messages with their journeys, refused attempts and fault rules. Message data is
// attacker-controlled: it only ever reaches the page through textContent.
const MAX_ROWS = 50;
const MAX_REFUSED = 25;
const POINTS = 300;

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const nf = new Intl.NumberFormat();
// 24-hour everywhere (h23: 00-23; a locale's 12-hour default or hour12:false's "24:05" never show)
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const pad = (n, w = 2) => String(n).padStart(w, '0');
/** 2026-12-02 05:10:07, local time */
const dateTime = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${timeFmt.format(d)}`;
/** 05:10:07.412, local time */
const preciseTime = (d) => `${timeFmt.format(d)}.${pad(d.getMilliseconds(), 3)}`;

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
  since.textContent = dateTime(new Date(s.since));
  const k = s.journey;
  if (k) {
    for (const name of ['received', 'delivered', 'deferred', 'bounced', 'expired']) $(`kumo-${name}`).textContent = nf.format(k[name]);
    $('kumo-note').textContent = k.records ? `kumod's own log records (${nf.format(k.records)} so far)` : "kumod's own log records: none yet (its log hook posts them; a local sink gets none)";
  }
}

// ---- journeys: the list, and one message's journey when clicked ----

const STATUS_TEXT = { delivered: 'delivered', bounced: 'bounced', expired: 'expired', rejected: 'rejected by kumod', refused: 'refused by the sink', queued: 'queued' };
let openMessageId = null;

function statusCell(status) {
  const td = el('td');
  td.append(el('span', STATUS_TEXT[status] ?? status, `badge ${status}`));
  return td;
}

/** A row that opens a journey: a real button in its first cell keeps it usable from the keyboard. */
function clickable(tr, messageId) {
  if (!messageId) return tr;
  tr.classList.add('clickable');
  tr.dataset.messageId = messageId;
  tr.addEventListener('click', () => void openJourney(messageId));
  return tr;
}

function journeyRow(j) {
  const tr = el('tr');
  const time = el('td');
  time.append(el('time', timeFmt.format(new Date(j.lastSeen))));
  const what = el('td');
  const button = el('button', j.subject ?? `<${j.messageId}>`, 'link');
  button.type = 'button';
  button.title = `Message-ID <${j.messageId}>`;
  what.append(button);
  tr.append(
    time,
    what,
    j.run === null ? el('td', '–', 'muted') : clipped(j.run),
    statusCell(j.status),
    el('td', nf.format(j.recipients), 'num'),
    el('td', nf.format(j.deferrals), j.deferrals ? 'num retry' : 'num'),
    el('td', nf.format(j.refusals), j.refusals ? 'num bad-text' : 'num'),
  );
  return clickable(tr, j.messageId);
}

function showJourneys(list) {
  const rows = list.map(journeyRow);
  $('journeys').replaceChildren(...(rows.length ? rows : [emptyRow(7, 'No message yet.')]));
}

function refusedRow(a) {
  const tr = el('tr');
  const time = el('td');
  time.append(el('time', timeFmt.format(new Date(a.time))));
  const why = [a.fault ? `fault ${a.fault}` : null, a.note].filter(Boolean).join('; ') || '–';
  tr.append(
    time,
    el('td', a.code === 0 ? 'dropped' : a.code, a.code >= 500 ? 'num bad-text' : 'num warn-text'),
    el('td', a.phase === 'data' ? 'after DATA' : a.phase.toUpperCase()),
    clipped(a.rcptTo.join(', ') || '–'),
    a.run === null ? el('td', '–', 'muted') : clipped(a.run),
    clipped(why),
    el('td', a.attempt, 'num'),
  );
  return clickable(tr, a.messageId);
}

/** Refusals arrive oldest first; newest on top, MAX_REFUSED kept. */
function addRefused(list, replace) {
  const body = $('refused');
  if (replace) body.replaceChildren();
  body.querySelector('.empty')?.remove();
  const frag = document.createDocumentFragment();
  for (const a of [...list].reverse()) frag.append(refusedRow(a));
  body.prepend(frag);
  while (body.rows.length > MAX_REFUSED) body.lastElementChild.remove();
  if (!body.rows.length) body.append(emptyRow(7, 'No refusal yet. Send to tempfail@… or permfail@… to see one.'));
}

const KIND_TEXT = { Accepted: 'accepted by the sink', Refused: 'refused by the sink', Dropped: 'connection dropped by the sink' };

function stepItem(s) {
  const li = el('li', undefined, `step ${s.source} ${s.kind}`);
  const time = el('time', preciseTime(new Date(s.time)), 'step-time');
  time.dateTime = s.time;
  const who = el('span', s.source === 'kumod' ? 'KumoMTA' : 'sink', `who ${s.source}`);
  const what = el('span', s.source === 'sink' ? KIND_TEXT[s.kind] ?? s.kind : s.kind, 'what');
  const code = el('span', s.code ? String(s.code) : '', s.code >= 500 ? 'code bad-text' : s.code >= 400 ? 'code warn-text' : 'code');
  li.append(time, who, what, code);
  const detail = [s.text, s.where, s.attempt ? `attempt ${s.attempt}` : null].filter(Boolean).join(' · ');
  if (detail) li.append(el('span', detail, 'detail'));
  return li;
}

function renderJourney(j) {
  $('journey-id').textContent = `<${j.messageId}>`;
  $('journey-meta').replaceChildren(
    el('span', STATUS_TEXT[j.status] ?? j.status, `badge ${j.status}`),
    ` ${j.subject ? `“${j.subject}”` : ''}${j.run ? ` · run ${j.run}` : ''} · ${dateTime(new Date(j.firstSeen))} → ${timeFmt.format(new Date(j.lastSeen))}`,
  );
  const blocks = j.timelines.map((t) => {
    const div = el('div', undefined, t.parent ? 'timeline child' : 'timeline');
    div.dataset.recipient = t.recipient;
    const head = el('h3');
    head.append(t.parent ? `copy from ${t.parent} to ` : 'to ', el('strong', t.recipient), ' ', el('span', STATUS_TEXT[t.status] ?? t.status, `badge ${t.status}`));
    const counts = [t.deferrals ? `${t.deferrals} deferred` : null, t.refusals ? `${t.refusals} refused` : null].filter(Boolean).join(', ');
    if (counts) head.append(el('span', ` ${counts}`, 'muted'));
    const ol = el('ol', undefined, 'steps');
    ol.append(...t.steps.map(stepItem));
    div.append(head, ol);
    return div;
  });
  $('journey-timelines').replaceChildren(...blocks);
}

async function openJourney(messageId) {
  openMessageId = messageId;
  const panel = $('journey');
  panel.hidden = false;
  try {
    const res = await fetch(`/api/journey?messageId=${encodeURIComponent(messageId)}`);
    const body = await res.json();
    if (openMessageId !== messageId) return;
    if (!res.ok || !body.journeys.length) {
      $('journey-id').textContent = `<${messageId}>`;
      $('journey-meta').textContent = res.ok ? 'Nothing recorded for this message any more (reset, or dropped from the ring).' : body.error;
      $('journey-timelines').replaceChildren();
      return;
    }
    renderJourney(body.journeys[0]);
  } catch {
    $('journey-meta').textContent = 'The sink did not answer; it will be tried again on the next update.';
  }
}

$('journey-close').addEventListener('click', () => {
  openMessageId = null;
  $('journey').hidden = true;
});

function messageRow(m) {
  const tr = clickable(el('tr'), m.messageId);
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
    addRefused(d.refused ?? [], true);
    showJourneys(d.journeys ?? []);
    if (openMessageId) void openJourney(openMessageId);
    setStatus('live');
    queueDraw();
  });
  source.addEventListener('tick', (e) => {
    const d = JSON.parse(e.data);
    showStats(d.stats);
    mergeRate(d.second, d.recentRate);
    addMessages(d.messages, true);
    showHits(d.hits);
    if (d.refused?.length) addRefused(d.refused, false);
    // journeys come only when something changed: then the open one is fetched again, live
    if (d.journeys) {
      showJourneys(d.journeys);
      if (openMessageId) void openJourney(openMessageId);
    }
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

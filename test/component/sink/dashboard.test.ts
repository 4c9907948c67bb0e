// The sink's dashboard in a real browser (Debian's Chromium through playwright-core), fed by real SMTP.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { playRetriedMessage } from '../../helpers/journey-play.js';
import { skipWithout } from '../../helpers/prerequisites.js';
import { api, startTestSink } from '../../helpers/sink.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const noChromium = skipWithout(
  haveChromium ? undefined : { what: 'test/component/sink/dashboard.test.ts: the sink dashboard in Chromium', reason: `${CHROMIUM} not found`, fix: 'apt-get install --no-install-recommends chromium (.ci/run does)' },
);

const SCREENSHOTS = fileURLToPath(new URL('../../../reports/screenshots/', import.meta.url));
const RUN = 'dashboard-test';
const POLL = { timeout: 5_000, interval: 50 };

describe.skipIf(noChromium)('sink dashboard in Chromium', () => {
  let sink: RunningSink;
  let browser: Browser;
  let page: Page;
  let sinkClosed = false;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const requested: string[] = [];

  const transport = () => nodemailer.createTransport({ host: '127.0.0.1', port: sink.smtpPort, secure: false, tls: { rejectUnauthorized: false } });
  const send = (subject: string, to = 'attendee@example.test') =>
    transport().sendMail({ from: 'instructor@example.test', to, subject, text: `body of ${subject}\n`, headers: { 'X-Mailkind-Run': RUN } });
  const text = (testId: string) => page.getByTestId(testId).textContent();
  const rows = () => page.getByTestId('messages').locator('tr');

  beforeAll(async () => {
    sink = await startTestSink();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true, // playwright adds --headless (and --no-sandbox) itself
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // en-US: the locale whose default clock is 12-hour, so a time formatted by locale would show AM/PM
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'Europe/Berlin' });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(sink.url + '/');
    await page.getByTestId('status').filter({ hasText: /^live$/ }).waitFor(POLL);
  });

  afterAll(async () => {
    await browser?.close();
    if (!sinkClosed) await sink?.close();
  });

  it('starts live with zero counters and an empty fault list', async () => {
    expect(await text('accepted')).toBe('0');
    expect(await text('rejected')).toBe('0');
    expect(await text('tempfailed')).toBe('0');
    expect(await text('faults')).toContain('No runtime rules');
  });

  it('counts and lists messages delivered over SMTP', async () => {
    const subjects = ['Workshop hello 1', 'Workshop hello 2', 'Workshop hello 3'];
    for (const s of subjects) await send(s);

    await expect.poll(() => text('accepted'), POLL).toBe('3');
    await expect.poll(() => rows().count(), POLL).toBe(3);
    // newest on top
    expect(await rows().locator('td:nth-child(4)').allTextContents()).toEqual([...subjects].reverse());
    const first = rows().first();
    expect(await first.textContent()).toContain('instructor@example.test');
    expect(await first.textContent()).toContain('attendee@example.test');
    expect(await first.textContent()).toContain(RUN);
    expect(Number(await text('connections'))).toBeGreaterThanOrEqual(3);
    expect(await text('bytes')).toMatch(/^\d+(\.\d)? (B|KiB)$/);
    // the chart followed the ticks: its label names a non-zero peak
    await expect.poll(() => page.locator('#rate-chart').getAttribute('aria-label'), POLL).toMatch(/peak [1-9]/);
    const [cssWidth, backing, dpr] = await page.evaluate<number[]>(
      `(() => { const c = document.getElementById('rate-chart'); return [c.getBoundingClientRect().width, c.width, devicePixelRatio]; })()`,
    );
    expect(backing).toBe(Math.round(cssWidth! * dpr!));
  });

  it('shows fault rules set through the API, with their hits', async () => {
    const rule = { id: 'greylist-demo', match: { domain: 'grey.example.test' }, action: 'tempfail', phase: 'rcpt', probability: 1 };
    const put = await api(sink, '/api/faults', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seed: 42, rules: [rule] }) });
    expect(put.status).toBe(200);

    const faults = page.getByTestId('faults');
    await faults.getByRole('row').filter({ hasText: 'greylist-demo' }).waitFor(POLL);
    const cells = await faults.getByRole('row').first().locator('td').allTextContents();
    expect(cells).toEqual(['greylist-demo', 'domain=grey.example.test', 'tempfail', 'rcpt', '100%', '0']);

    await expect(send('Refused at RCPT', 'someone@grey.example.test')).rejects.toThrow();
    await expect.poll(() => text('tempfailed'), POLL).toBe('1');
    await expect.poll(() => faults.locator('tr td:last-child').first().textContent(), POLL).toBe('1');
  });

  it('renders attacker-controlled subjects as text', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    await send(evil);
    await expect.poll(() => rows().first().locator('td:nth-child(4)').textContent(), POLL).toBe(evil);
    expect(await page.locator('img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('says what the rate card counts, and shows every time on a 24-hour clock', async () => {
    expect(await text('rate-label')).toBe('messages accepted (250 after DATA) per second, mean of the last 10 s');
    expect(await text('since')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const times = await page.locator('time').allTextContents();
    expect(times.length).toBeGreaterThan(3);
    for (const t of times) expect(t).not.toMatch(/AM|PM/i);
  });

  it('lists refused attempts, not only counts them', async () => {
    // the RCPT refusal of the fault-rule test above, and a 550 after DATA
    await expect(send('Refused after DATA', 'permfail@example.test')).rejects.toThrow();
    const refused = page.getByTestId('refused');
    await expect.poll(() => refused.locator('tr').count(), POLL).toBe(2);
    const cells = async (i: number) => (await refused.locator('tr').nth(i).locator('td').allTextContents()).slice(1, 4);
    expect(await cells(0)).toEqual(['550', 'after DATA', 'permfail@example.test']);
    expect(await cells(1)).toEqual(['451', 'RCPT', 'someone@grey.example.test']);
  });

  it("shows kumod's counts beside the sink's, and a retried message's journey on a click", async () => {
    expect(await text('kumo-received')).toBe('0');
    const messageId = 'retry-demo.1@mailkind.test';
    const codes = await playRetriedMessage(sink, { messageId, recipient: 'tempfail-2+demo@example.test', run: RUN, subject: 'Retried twice' });
    expect(codes).toEqual([451, 451, 250]);
    // the counts come in over the live feed, one record batch at a time: wait for each
    await expect.poll(() => text('kumo-deferred'), POLL).toBe('2');
    await expect.poll(() => text('kumo-received'), POLL).toBe('1');
    await expect.poll(() => text('kumo-delivered'), POLL).toBe('1');
    expect(await text('kumo-bounced')).toBe('0');

    const row = page.getByTestId('journeys').locator(`tr[data-message-id="${messageId}"]`);
    await row.waitFor(POLL);
    expect(await row.locator('td').allTextContents()).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d$/), 'Retried twice', RUN, 'delivered', '1', '2', '2']);
    await row.getByRole('button').click();
    const panel = page.getByTestId('journey');
    await panel.waitFor({ state: 'visible', ...POLL });
    const steps = panel.locator('li.step');
    await expect.poll(() => steps.count(), POLL).toBe(7);
    const [who, what, code] = await Promise.all(['.who', '.what', '.code'].map((c) => steps.locator(c).allTextContents()));
    const lines = who!.map((w, i) => `${w} ${what![i]} ${code![i]}`);
    expect(lines).toEqual([
      'KumoMTA Reception 250',
      'sink refused by the sink 451',
      'KumoMTA TransientFailure 451',
      'sink refused by the sink 451',
      'KumoMTA TransientFailure 451',
      'sink accepted by the sink 250',
      'KumoMTA Delivery 250',
    ]);
    expect(await text('journey-meta')).toContain('delivered');
    for (const t of await panel.locator('.step-time').allTextContents()) expect(t).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
    // a refused attempt opens its message's journey too
    await page.getByTestId('journey-close').click();
    await panel.waitFor({ state: 'hidden', ...POLL });
    await page.getByTestId('refused').locator(`tr[data-message-id="${messageId}"]`).first().click();
    await panel.waitFor({ state: 'visible', ...POLL });
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOTS + 'sink-journey.png', fullPage: true });
  });

  it('has no script errors, loads nothing from elsewhere, and leaves a screenshot', async () => {
    expect(pageErrors).toEqual([]);
    expect(requested.filter((url) => !url.startsWith(sink.url + '/') && !url.startsWith('data:'))).toEqual([]);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOTS + 'sink-dashboard.png', fullPage: true });
  });

  it('says "reconnecting" when the sink goes away', async () => {
    sinkClosed = true;
    await sink.close();
    await page.getByTestId('status').filter({ hasText: /^reconnecting$/ }).waitFor(POLL);
  });
});

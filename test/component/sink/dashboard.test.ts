// The sink's dashboard in a real browser (Debian's Chromium through playwright-core), fed by real SMTP.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSink } from '../../../sinks/smtp-sink/src/sink.js';
import { api, startTestSink } from '../../helpers/sink.js';
import { skipWithout } from '../../helpers/prerequisites.js';

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
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
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

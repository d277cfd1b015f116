import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { FrameType } from '../../src/channel/frames';
import { startBrowserDemo, type BrowserDemo } from '../../examples/browser/demo';
import { HostileProxy } from '../helpers/hostile-proxy';
import { scaled } from '../helpers/slowdown';

// Alice in real headless Chromium (Debian's `chromium`, driven by playwright-core), Bob a Node node, both
// through a hub that listens on TCP (Bob) and WebSocket (the page). The page is examples/browser/ with the
// browser bundle, built here from a tsc compile of its own (dist/ is left alone).

const CHROMIUM = process.env.SEALROUTE_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = resolve(__dirname, '..', '..');
/** Git-ignored: the screenshot and the round-trip figure of the last run. */
const ARTIFACTS = join(__dirname, 'artifacts');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI === 'true')
    throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  console.warn(
    `\n*** SKIPPED test/browser: no Chromium at ${CHROMIUM}. Install it: apt-get install -y chromium ***\n`,
  );
}

jest.setTimeout(scaled(240_000));

const describeIf = haveChromium ? describe : describe.skip;

describeIf('Alice in Chromium, Bob in Node, through a hub on TCP and WebSocket', () => {
  let build: string;
  let profile: string;
  let demo: BrowserDemo;
  let proxy: HostileProxy;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    build = mkdtempSync(join(tmpdir(), 'sealroute-browser-build-'));
    profile = mkdtempSync(join(tmpdir(), 'sealroute-chromium-'));
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', build],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    execFileSync(process.execPath, ['tools/build-browser.mjs', '--dist', build], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    demo = await startBrowserDemo({
      bundleDir: build,
      // Bob reaches the hub through a proxy that can flip a bit of a frame: a hostile hub, as Alice sees it.
      bobHub: async (hubTcp) => (proxy = await HostileProxy.start(hubTcp)).address,
    });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterAll(async () => {
    await context?.close();
    await proxy?.close();
    await demo?.stop();
    for (const dir of [build, profile]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(): Promise<string> {
    await page.goto(demo.url);
    await page.waitForFunction(() => (globalThis as { demo?: unknown }).demo !== undefined, undefined, {
      timeout: scaled(30_000),
    });
    return page.evaluate(() => (globalThis as unknown as { demo: { identifier: string } }).demo.identifier);
  }

  it('opens a channel to Bob, gets an echo for each of 100 messages, refuses a tampered frame, and keeps its identity across a reload', async () => {
    const identifier = await openPage();
    expect(identifier).toMatch(/^I[0-9a-f]{40}$/);

    // The page's own form: the hub and Bob's forwarding address are filled in from the URL.
    await page.click('#connect');
    await page.waitForSelector('#message:not([disabled])', { timeout: scaled(20_000) });

    const started = Date.now();
    const echoes = await page.evaluate(async () => {
      const demo = (globalThis as unknown as { demo: { send(text: string): Promise<string> } }).demo;
      const out: string[] = [];
      for (let i = 0; i < 100; i++) out.push(await demo.send(`message ${i}`));
      return out;
    });
    const elapsed = Date.now() - started;
    expect(echoes).toEqual(Array.from({ length: 100 }, (_, i) => `message ${i}`));
    expect(demo.received).toEqual(echoes);

    // One typed message through the page's input, shown as Bob's echo.
    await page.fill('#message', 'typed by Alice');
    await page.press('#message', 'Enter');
    await page.waitForSelector('text=Bob echoed: typed by Alice', { timeout: scaled(10_000) });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser-exchange.png'), fullPage: true });
    writeFileSync(
      join(ARTIFACTS, 'browser-rtt.json'),
      JSON.stringify({ messages: 100, ms: elapsed, roundTripsPerSecond: (100 * 1000) / elapsed }),
    );
    console.log(`browser round trips: 100 in ${elapsed} ms (${((100 * 1000) / elapsed).toFixed(0)}/s)`);

    // The hostile hub flips a bit of Bob's next DATA frame toward Alice: the browser refuses it.
    const flip = proxy.intercept({
      match: (frame) =>
        frame.connection === 0 &&
        frame.direction === 'toTarget' &&
        frame.body instanceof Uint8Array &&
        frame.body[0] === FrameType.DATA,
      tamper: { kind: 'flip' },
    });
    const tampered = await page.evaluate(async () => {
      const demo = (
        globalThis as unknown as {
          demo: {
            send(text: string, timeout: number): Promise<string>;
            stats(): { dropped: Record<string, number> };
          };
        }
      ).demo;
      let outcome: string;
      try {
        outcome = `echo: ${await demo.send('to be tampered with', 1_500)}`;
      } catch (error) {
        outcome = `refused: ${(error as { code?: string }).code}`;
      }
      return { outcome, dropped: demo.stats().dropped };
    });
    await flip.matched(1);
    expect(tampered.outcome).toBe('refused: TIMEOUT');
    expect(tampered.dropped.decryptFailed).toBe(1);
    // The channel goes on: the next message is echoed.
    const after = await page.evaluate(() =>
      (globalThis as unknown as { demo: { send(text: string, timeout: number): Promise<string> } }).demo.send(
        'after the tampering',
        10_000,
      ),
    );
    expect(after).toBe('after the tampering');

    // A reload: a new page, a new node, the same identity out of IndexedDB.
    expect(await openPage()).toBe(identifier);
    expect(pageErrors).toEqual([]);
  });
});

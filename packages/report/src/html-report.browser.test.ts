// The HTML report in a real headless browser (Debian's chromium through playwright-core; `npm run setup`
// installs it). Skipped loudly where chromium is missing, required in CI.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect } from 'vitest';
import { itRequires } from '@prunebench/engine/testing';
import { generateReport } from './generate-report.js';
import { syntheticSuite, writeSyntheticStore } from './synthetic-records.js';

const CHROMIUM = process.env.PRUNEBENCH_CHROMIUM || '/usr/bin/chromium';
const chromiumRequirement = {
  what: 'chromium',
  missing: existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found`,
  install: 'npm run setup, or point PRUNEBENCH_CHROMIUM at a chromium binary',
};
const repositoryRoot = resolve(import.meta.dirname, '../../..');
const screenshotFile = join(repositoryRoot, 'reports/tmp/report-screenshot.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const root = mkdtempSync(join(tmpdir(), 'prunebench-html-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('HTML report in headless chromium', () => {
  itRequires(chromiumRequirement, 'loads offline, renders every chart with a size, logs no console error, and screenshots', async () => {
    const records = [...syntheticSuite(), ...syntheticSuite({ task: 'cifar10-resnet20', latency: false })];
    const { store } = writeSyntheticStore(join(root, 'runs'), records);
    await generateReport(store, join(root, 'report'), {
      referencesDir: join(repositoryRoot, 'benchmarks/references'),
      title: 'prunebench smoke report',
      generatedAt: '2025-01-01T00:00:00Z',
      onProblem: () => {},
    });

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const consoleErrors: string[] = [];
      const outsideRequests: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      page.on('pageerror', (error) => consoleErrors.push(error.message));
      page.on('request', (request) => {
        if (!request.url().startsWith('file:')) outsideRequests.push(request.url());
      });

      const response = await page.goto(pathToFileURL(join(root, 'report', 'index.html')).href, { waitUntil: 'load' });
      expect(response?.ok()).toBe(true);
      expect(await page.title()).toBe('prunebench smoke report');

      const charts = await page.$$eval('figure.chart > svg', (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          return { width: box.width, height: box.height, lines: svg.querySelectorAll('.mark-line path[aria-roledescription="line mark"]').length };
        }),
      );
      expect(charts).toHaveLength(5); // resnet56: compression, speedup, latency; resnet20: compression, speedup
      for (const chart of charts) {
        expect(chart.width).toBeGreaterThan(100);
        expect(chart.height).toBeGreaterThan(100);
        expect(chart.lines).toBe(2);
      }
      const headings = await page.$$eval('h2', (hs) => hs.map((h) => h.textContent));
      expect(headings).toEqual(['cifar10-resnet20', 'cifar10-resnet56', 'Environment', 'Failed runs', 'Records skipped']);
      expect(await page.locator('tr.dense').count()).toBeGreaterThan(0);
      expect(consoleErrors).toEqual([]);
      expect(outsideRequests).toEqual([]);

      mkdirSync(resolve(screenshotFile, '..'), { recursive: true });
      await page.locator('#task-cifar10-resnet56').scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshotFile, fullPage: true });
      const png = readFileSync(screenshotFile);
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      expect(png.length).toBeGreaterThan(20_000);
      expect(png.readUInt32BE(16)).toBe(1280); // IHDR width
    } finally {
      await browser.close();
    }
  });
});

import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { planHistory, writeHistory } from '../../bench/history.js';
import { createAgent } from '../../src/admin/agents.js';
import { createQueue } from '../../src/admin/queues.js';
import { phoneNumber } from '../helpers/factories.js';
import { Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, seriousViolations, signInAt } from './browser.js';

const PASSWORD = 'correct horse battery';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  await createAgent(stack.db, {
    email: 'sam@reports.test',
    name: 'Sam',
    role: 'supervisor',
    password: PASSWORD,
  });
  await writeHistory(
    stack.db,
    planHistory({ seed: 7, conversations: 1500, days: 30, end: new Date() }),
  );
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

function signIn(page: Page, email: string): Promise<void> {
  return signInAt(page, stack.parley.url, email, PASSWORD);
}

interface ReportAnswer {
  totals: { in: number; answered: number; abandoned: number };
  byAgent: { id: string | null; name: string }[];
  dispositions: { code: string; label: string; count: number }[];
  csat: { distribution: { score: number; count: number }[] };
  failures: { code: number | null; reason: string; count: number }[];
}

/** The cells of a table's body rows, as text. */
function tableRows(page: Page, name: string): Promise<string[][]> {
  return page
    .getByRole('table', { name, exact: true })
    .locator('tbody tr')
    .evaluateAll((rows) =>
      rows.map((row) =>
        Array.from(
          (row as unknown as { children: ArrayLike<{ textContent: string | null }> }).children,
          (cell) => (cell.textContent ?? '').trim(),
        ),
      ),
    );
}

/** The text of a tile's big number. */
async function tileValue(page: Page, label: string): Promise<string> {
  const tile = page.getByRole('group', { name: label, exact: true });
  return (await tile.locator('div').nth(1).innerText()).trim();
}

describe('reports in a browser', () => {
  it('draws a month of history in charts with the figures the API answers', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-reports.png'), fullPage: true });
    });
    await signIn(page, 'sam@reports.test');
    await page
      .getByRole('navigation', { name: 'Pages' })
      .getByRole('button', { name: 'Reports' })
      .click();
    await page.getByRole('heading', { name: 'Reports', level: 1 }).waitFor();

    // The page first asks for the last 7 days; the answer wanted is the month's.
    const [answered] = await Promise.all([
      page.waitForResponse((response) => {
        const url = new URL(response.url());
        const from = Date.parse(url.searchParams.get('from') ?? '');
        return url.pathname === '/api/reports' && Date.now() - from > 20 * 86_400_000;
      }),
      page.getByLabel('Period', { exact: true }).selectOption('last-30-days'),
    ]);
    const report = (await answered.json()) as ReportAnswer;
    expect(report.totals.in).toBeGreaterThan(1000);

    await page.getByRole('group', { name: 'Conversations in', exact: true }).waitFor();
    expect(await tileValue(page, 'Conversations in')).toBe(String(report.totals.in));
    expect(await tileValue(page, 'Answered')).toBe(String(report.totals.answered));
    expect(await tileValue(page, 'Abandoned')).toBe(String(report.totals.abandoned));

    // Recharts drew its charts: the line chart's lines and the bar charts' bars.
    await page.locator('.recharts-line-curve').first().waitFor();
    // In time, by queue, by agent (answered, handle time), CSAT, dispositions.
    expect(await page.locator('.recharts-wrapper').count()).toBe(6);
    expect(await page.locator('.recharts-line-curve').count()).toBe(3);
    expect(await page.locator('.recharts-bar-rectangle').count()).toBeGreaterThan(10);
    // An agent's name under its bars and in the table beside them.
    const agentName = report.byAgent.find((row) => row.id !== null)!.name;
    await page.getByRole('table', { name: 'Figures by agent' }).getByText(agentName).waitFor();
    const ticks = await page
      .locator('.recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value')
      .evaluateAll((texts) => texts.map((text) => text.textContent));
    expect(ticks).toContain(agentName);
    // The numbers beside the CSAT, dispositions and delivery-failure charts are the API's.
    expect((await tableRows(page, 'Survey answers')).slice(0, 5)).toEqual(
      report.csat.distribution.map((d) => [`Score ${d.score}`, String(d.count)]),
    );
    expect(await tableRows(page, 'Dispositions')).toEqual(
      report.dispositions.map((d) => [d.code, d.label, String(d.count)]),
    );
    expect(report.failures.length).toBeGreaterThan(0);
    expect(await tableRows(page, 'Delivery failures by reason')).toEqual(
      report.failures.map((f) => [
        f.code === null ? '–' : String(f.code),
        f.reason,
        String(f.count),
      ]),
    );
    const csv = page.getByRole('link', { name: 'Download CSV' });
    expect(await csv.getAttribute('href')).toMatch(/^\/api\/reports\.csv\?from=/);

    expect(await seriousViolations(page)).toEqual([]);

    // The page scrolls inside the app's main area: a tall window shows all of it.
    await page.setViewportSize({ width: 1400, height: 4200 });
    await page.screenshot({ path: join(RESULTS_DIR, 'reports.png') });
    await page.close();
  });

  it("shows today's figures on the wallboard", async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-wallboard.png') });
    });
    await signIn(page, 'sam@reports.test');
    const [answered] = await Promise.all([
      page.waitForResponse(
        (response) => response.url().includes('/api/wallboard?') && response.status() === 200,
      ),
      page.goto(`${stack.parley.url}/wallboard`),
    ]);
    const board = (await answered.json()) as { report: ReportAnswer };
    await page.getByRole('group', { name: 'In', exact: true }).waitFor();
    expect(await tileValue(page, 'In')).toBe(String(board.report.totals.in));
    expect(await tileValue(page, 'Waiting now')).toBe('0');
    expect(await seriousViolations(page)).toEqual([]);

    // A customer texts a queue nobody serves: the board follows without a reload.
    const queue = await createQueue(stack.db, { name: 'Nobody home', memberIds: [] });
    const { number } = await stack.addNumber({ flow: { name: 'Waits', queueId: queue.id } });
    await stack.text(phoneNumber(), number.address, 'Anyone there?');
    await expect.poll(() => tileValue(page, 'Waiting now'), { timeout: 15_000 }).toBe('1');
    expect(await tileValue(page, 'In')).toBe(String(board.report.totals.in + 1));
    expect(await tileValue(page, 'Longest wait')).toMatch(/^\d+:\d\d$/);
    await page.screenshot({ path: join(RESULTS_DIR, 'wallboard.png') });
    await page.close();
  });
});

import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { createQueue } from '../../src/admin/queues.js';
import { Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, seriousViolations, signInAt } from './browser.js';

const PASSWORD = 'correct horse battery';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  await createAgent(stack.db, {
    email: 'root@audit.test',
    name: 'Root',
    role: 'admin',
    password: PASSWORD,
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('the audit trail in the admin console', () => {
  it("shows an admin's queue change with its field before and after, and the admin's email", async () => {
    await createQueue(stack.db, { name: 'Billing' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-audit.png'), fullPage: true });
    });
    await signInAt(page, stack.parley.url, 'root@audit.test', PASSWORD);

    await page.getByRole('link', { name: 'Queues', exact: true }).click();
    await page.getByRole('heading', { name: 'Queues', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Edit Billing' }).click();
    await page.getByRole('textbox', { name: 'Name' }).fill('Billing and refunds');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('cell', { name: 'Billing and refunds', exact: true }).waitFor();

    await page.getByRole('link', { name: 'Audit trail', exact: true }).click();
    await page.getByRole('heading', { name: 'Audit trail', level: 1 }).waitFor();
    const table = page.getByRole('table', { name: 'Audit entries, newest first' });
    const row = table.getByRole('row').filter({ hasText: 'queue.updated' });
    await row.waitFor();
    // Seen as "Billing → Billing and refunds", heard as "Billing changed to Billing and refunds".
    const change = row.getByRole('listitem');
    expect((await change.textContent())?.replace(/\s+/g, ' ')).toBe(
      'name: Billing → changed to Billing and refunds',
    );
    expect(await row.getByRole('cell').nth(1).textContent()).toBe('root@audit.testfrom 127.0.0.1');

    // The filters narrow the table; the export links follow them.
    await page.getByLabel('Action (queue.updated, or queue.)').fill('queue.');
    await page.getByRole('button', { name: 'Show entries' }).click();
    await expect
      .poll(() => page.getByRole('link', { name: 'CSV' }).getAttribute('href'))
      .toBe('/api/audit/export?action=queue.&format=csv');
    await table.getByRole('row').filter({ hasText: 'queue.updated' }).waitFor();
    await page.screenshot({ path: join(RESULTS_DIR, 'admin-audit.png'), fullPage: true });

    expect(await seriousViolations(page)).toEqual([]);
  });
});

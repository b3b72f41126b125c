import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { createQueue } from '../../src/admin/queues.js';
import { conversations } from '../../src/db/schema.js';
import { phoneNumber } from '../helpers/factories.js';
import { eventually, Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, signInAt } from './browser.js';

const PASSWORD = 'correct horse battery';

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  await createAgent(stack.db, {
    email: 'root@archive.test',
    name: 'Root',
    role: 'admin',
    password: PASSWORD,
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

function signIn(page: Page, email: string): Promise<void> {
  return signInAt(page, stack.parley.url, email, PASSWORD);
}

describe('archiving in the admin console', () => {
  it('archives a number after asking to close its open conversation, shows it under Show archived and restores it', async () => {
    const queue = await createQueue(stack.db, { name: 'Nobody here' });
    const { number } = await stack.addNumber({ flow: { name: 'Retiring', queueId: queue.id } });
    await stack.text(phoneNumber(), number.address, 'Hello?');
    await eventually(async () => {
      const [row] = await stack.db
        .select({ state: conversations.state })
        .from(conversations)
        .where(eq(conversations.numberId, number.id));
      return row?.state === 'queued';
    });

    const admin = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await admin.screenshot({ path: join(RESULTS_DIR, 'failed-archive-admin.png') });
    });
    await signIn(admin, 'root@archive.test');
    await admin.getByRole('link', { name: 'Numbers', exact: true }).click();
    await admin.getByRole('heading', { name: 'Numbers', level: 1 }).waitFor();
    const table = admin.getByRole('table', { name: 'Numbers' });
    await table.getByRole('button', { name: `Archive ${number.address}` }).click();

    const confirm = admin.getByRole('alertdialog', { name: 'Archive number?' });
    await confirm.getByText('Texts to it are still stored and answered').waitFor();
    await confirm.getByRole('button', { name: 'Archive' }).click();
    // The server counts the open conversation; the console asks what happens to it.
    const choice = admin.getByRole('alertdialog', { name: 'Close its open conversations?' });
    await choice.getByText(`has 1 open conversation`).waitFor();
    await choice.getByRole('button', { name: 'Close them and archive' }).click();
    await admin
      .getByText(`Archived number “${number.address}” and closed its open conversations.`)
      .waitFor();
    await table.getByRole('button', { name: `Archive ${number.address}` }).waitFor({
      state: 'detached',
    });
    const [closed] = await stack.db
      .select({ state: conversations.state, reason: conversations.closeReason })
      .from(conversations)
      .where(eq(conversations.numberId, number.id));
    expect(closed).toEqual({ state: 'closed', reason: 'number-archived' });

    // Paste's switch hides its input behind the label a person clicks.
    await admin.getByText('Show archived numbers').click();
    const showArchived = admin.getByRole('switch', { name: 'Show archived numbers' });
    await expect.poll(() => showArchived.isChecked()).toBe(true);
    const row = table.getByRole('row').filter({ hasText: number.address });
    await row.getByText('Archived', { exact: true }).waitFor();
    await row.getByRole('button', { name: `Restore ${number.address}` }).click();
    await admin.getByText(`Restored number “${number.address}”.`).waitFor();
    await row.getByRole('button', { name: `Archive ${number.address}` }).waitFor();
    await admin.close();
  });
});

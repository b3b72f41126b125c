import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { createQueue } from '../../src/admin/queues.js';
import { conversations } from '../../src/db/schema.js';
import { eventually, Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, signInAt } from './browser.js';

const HANDSET = '+15550007777';
const PASSWORD = 'correct horse battery';
const NOTE = 'Owes 40 EUR from March; collections are not to be mentioned';

let stack: Stack;
let browser: Browser;
let businessNumber: string;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  const ada = await createAgent(stack.db, {
    email: 'ada@wrap-up.test',
    name: 'Ada',
    role: 'agent',
    password: PASSWORD,
  });
  const queue = await createQueue(stack.db, {
    name: 'Billing',
    offerTimeoutSeconds: 120,
    memberIds: [ada.id],
    dispositions: [
      { code: 'refund', label: 'Refund issued' },
      { code: 'callback', label: 'Call back later' },
    ],
    dispositionRequired: true,
  });
  const { number } = await stack.addNumber({
    flow: { name: 'Billing', queueId: queue.id, finalMessage: 'Thanks for texting Billing.' },
  });
  businessNumber = number.address;
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

function signIn(page: Page, email: string): Promise<void> {
  return signInAt(page, stack.parley.url, email, PASSWORD);
}

describe('wrap-up and internal notes at the desk', () => {
  it('adds an internal note, and ends with a disposition once refused without one', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await desk.screenshot({ path: join(RESULTS_DIR, 'failed-wrap-up.png') });
    });
    await signIn(desk, 'ada@wrap-up.test');
    await desk.getByText('Available', { exact: true }).click();
    await expect.poll(() => desk.getByRole('radio', { name: 'Available' }).isChecked()).toBe(true);

    await stack.text(HANDSET, businessNumber, 'My invoice is wrong');
    const offer = desk.getByTestId('offer');
    await offer.getByText(HANDSET).waitFor();
    await offer.getByRole('button', { name: 'Accept' }).click();
    const transcript = desk.getByTestId('transcript');
    await transcript.getByText('My invoice is wrong').waitFor();

    // The note is written apart from the reply, and shows as internal in the transcript.
    await desk.getByRole('button', { name: 'Note', exact: true }).click();
    await desk.getByLabel('Internal note — not sent to the customer').fill(NOTE);
    await desk.getByRole('button', { name: 'Add note' }).click();
    const note = transcript.getByTestId('internal-note');
    await note.getByText(NOTE).waitFor();
    await expect(note.textContent()).resolves.toContain('Internal note · Ada');
    await desk.screenshot({ path: join(RESULTS_DIR, 'wrap-up-note.png') });

    // Ending without a disposition is refused with the server's words; the dialog stays.
    await desk.getByRole('button', { name: 'End conversation' }).click();
    const dialog = desk.getByRole('dialog', { name: 'End conversation' });
    await dialog.getByText('Billing requires one.').waitFor();
    await dialog.getByRole('button', { name: 'End conversation' }).click();
    await dialog
      .getByRole('alert')
      .getByText('Pick a disposition to end this conversation (queue Billing requires one)', {
        exact: false,
      })
      .waitFor();
    await desk.screenshot({ path: join(RESULTS_DIR, 'wrap-up-refused.png') });

    await dialog.getByLabel('Disposition').selectOption({ label: 'Call back later' });
    await dialog.getByLabel('Summary').fill('Calls back after payday.');
    await dialog.getByRole('button', { name: 'End conversation' }).click();
    await desk.getByText('Choose a conversation, or accept an offer.').waitFor();

    const row = await eventually(async () => {
      const [found] = await stack.db
        .select()
        .from(conversations)
        .where(eq(conversations.customerAddress, HANDSET));
      return found?.state === 'closed' && found;
    });
    expect(row).toMatchObject({
      disposition: 'callback',
      wrapUpSummary: 'Calls back after payday.',
    });
    // The customer got the final message, and never the note.
    await stack.received(HANDSET, 'Thanks for texting Billing.');
    const inbox = await stack.inbox(HANDSET, 1);
    expect(inbox.map((message) => message.body)).toEqual(['Thanks for texting Billing.']);
  });
});

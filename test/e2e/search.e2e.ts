import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { conversations, messages } from '../../src/db/schema.js';
import { conversationInFlow } from '../helpers/factories.js';
import { Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, seriousViolations, signInAt } from './browser.js';

const PASSWORD = 'correct horse battery';
const MINE = '+15550007001';
const THEIRS = '+15550007002';

let stack: Stack;
let browser: Browser;

/** A closed conversation of the agent with the customer, holding the customer's texts. */
async function pastConversation(
  numberId: string,
  agentId: string,
  customer: string,
  texts: string[],
) {
  const conversation = await conversationInFlow(stack.db, numberId, customer);
  await stack.db
    .update(conversations)
    .set({ state: 'closed', closedAt: new Date(), agentId })
    .where(eq(conversations.id, conversation.id));
  for (const body of texts) {
    await stack.db.insert(messages).values({
      conversationId: conversation.id,
      numberId,
      direction: 'inbound',
      author: 'customer',
      fromAddress: customer,
      toAddress: 'us',
      body,
      status: 'received',
    });
  }
}

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  const ada = await createAgent(stack.db, {
    email: 'ada@e2e.test',
    name: 'Ada',
    role: 'agent',
    password: PASSWORD,
  });
  const grace = await createAgent(stack.db, {
    email: 'grace@e2e.test',
    name: 'Grace',
    role: 'agent',
    password: PASSWORD,
  });
  const { number } = await stack.addNumber();
  await pastConversation(number.id, ada.id, MINE, [
    'Hello there',
    'My saxophone case arrived with a broken latch',
  ]);
  await pastConversation(number.id, grace.id, THEIRS, ['Is the saxophone back in stock?']);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

function signIn(page: Page, email: string): Promise<void> {
  return signInAt(page, stack.parley.url, email, PASSWORD);
}

describe('search in a browser', () => {
  it("finds an agent's conversation by a word, not a colleague's, and opens its transcript", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-search.png'), fullPage: true });
    });
    await signIn(page, 'ada@e2e.test');
    await page
      .getByRole('navigation', { name: 'Pages' })
      .getByRole('button', { name: 'Search' })
      .click();
    await page.getByLabel('Words in messages').fill('saxophone');
    await page.getByRole('button', { name: 'Search', exact: true }).last().click();

    const results = page.getByRole('region', { name: /newest first/ });
    await results.getByText(MINE).waitFor();
    expect(await results.getByRole('listitem').count()).toBe(1);
    expect(await results.getByText(THEIRS).count()).toBe(0);
    await expect.poll(() => results.locator('mark').first().textContent()).toBe('saxophone');
    await page.screenshot({ path: join(RESULTS_DIR, 'search.png'), fullPage: true });

    const violations = await seriousViolations(page);
    expect(violations).toEqual([]);

    await results.getByRole('button', { name: `Read conversation with ${MINE}` }).click();
    const transcript = page.getByRole('dialog');
    await transcript.getByText('My saxophone case arrived with a broken latch').waitFor();
    await transcript.getByText('Hello there').waitFor();
    // Once the dialog has faded in (a function of the page: this file has no DOM types).
    const opacity = (dialog: unknown) =>
      (
        globalThis as unknown as { getComputedStyle: (node: unknown) => { opacity: string } }
      ).getComputedStyle(dialog).opacity;
    await expect.poll(() => transcript.evaluate(opacity)).toBe('1');
    await page.screenshot({ path: join(RESULTS_DIR, 'search-transcript.png') });
    await page.keyboard.press('Escape');
    await transcript.waitFor({ state: 'detached' });
    await results.getByText(MINE).waitFor();

    // By a number typed in national format: hers is found, her colleague's customer is not.
    await page.getByLabel('Words in messages').fill('');
    await page.getByLabel('Phone number').fill('(555) 000-7001');
    await page.getByRole('button', { name: 'Search', exact: true }).last().click();
    await page.getByRole('heading', { name: '1 conversation, newest first' }).waitFor();
    await results.getByText(MINE).waitFor();
    await page.getByLabel('Phone number').fill('(555) 000-7002');
    await page.getByRole('button', { name: 'Search', exact: true }).last().click();
    await page.getByRole('heading', { name: 'No conversations found' }).waitFor();
    await page.close();
  });
});

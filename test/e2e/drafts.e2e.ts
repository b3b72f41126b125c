import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { conversations, sessions } from '../../src/db/schema.js';
import { phoneNumber } from '../helpers/factories.js';
import { Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR } from './browser.js';

const PASSWORD = 'correct horse battery';

let stack: Stack;
let browser: Browser;
let doraId: string;
let customer: string;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  const dora = await createAgent(stack.db, {
    email: 'dora@e2e.test',
    name: 'Dora',
    role: 'agent',
    password: PASSWORD,
  });
  doraId = dora.id;
  const { number } = await stack.addNumber({ flow: { name: 'Drafts' } });
  customer = phoneNumber();
  await stack.text(customer, number.address, 'Is my order shipped?');
  await stack.db
    .update(conversations)
    .set({ state: 'active', agentId: dora.id })
    .where(eq(conversations.customerAddress, customer));
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

async function signIn(page: Page): Promise<void> {
  await page.getByLabel('Email').fill('dora@e2e.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function openConversation(page: Page): Promise<void> {
  await page.getByRole('list', { name: 'My conversations' }).getByText(customer).click();
  await page.getByRole('textbox', { name: 'Reply' }).waitFor();
}

const reply = (page: Page) => page.getByRole('textbox', { name: 'Reply' });

describe('an unsent reply', () => {
  it('survives a reload and a session that ended, and goes once signed in again', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await desk.screenshot({ path: `${RESULTS_DIR}/failed-drafts.png` });
    });
    await desk.goto(stack.parley.url);
    await signIn(desk);
    await openConversation(desk);
    await reply(desk).fill('Yes, it left our warehouse');

    await desk.reload();
    await openConversation(desk);
    await expect.poll(() => reply(desk).textContent()).toBe('Yes, it left our warehouse');

    await reply(desk).press('End');
    await reply(desk).pressSequentially(' this morning.');
    // The segment counter has asked the server about the whole text: nothing is in flight.
    await desk.getByText('40 characters', { exact: false }).waitFor();
    // The session ends on the server (expired, revoked); the agent presses Enter, unless the
    // desk noticed first (a request of its own refused): either way it asks to sign in again.
    await stack.db.delete(sessions).where(eq(sessions.userId, doraId));
    const ended = desk.getByText('Your session ended. Sign in again to go on', { exact: false });
    await reply(desk)
      .press('Enter', { timeout: 5_000 })
      .catch(async (error: unknown) => {
        if (!(await ended.isVisible())) throw error;
      });
    await ended.waitFor();
    await signIn(desk);
    await openConversation(desk);
    await expect
      .poll(() => reply(desk).textContent())
      .toBe('Yes, it left our warehouse this morning.');
    await reply(desk).press('Enter');
    await stack.received(customer, 'Yes, it left our warehouse this morning.');
    await expect.poll(() => reply(desk).textContent()).toBe('');

    // Signing out forgets this person's drafts: the next one at this browser is not them.
    await reply(desk).fill('A draft left behind');
    await desk.getByRole('button', { name: 'Sign out' }).click();
    await signIn(desk);
    await openConversation(desk);
    expect(await reply(desk).textContent()).toBe('');
    await desk.close();
  });

  it('shows a not-found page for an address that is no page, with the way home', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(stack.parley.url);
    await signIn(page);
    const response = await page.goto(`${stack.parley.url}/no-such-page`);
    expect(response?.status()).toBe(404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await page.getByRole('button', { name: 'Go to my home page' }).click();
    await page.getByRole('list', { name: 'My conversations' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/desk');
    await page.close();
  });

  it('says in words that Parley could not be reached, and keeps the text', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await desk.goto(stack.parley.url);
    await signIn(desk);
    await openConversation(desk);
    await desk.route('**/api/conversations/*/messages', (route) =>
      route.abort('internetdisconnected'),
    );
    await reply(desk).fill('Sent while offline');
    await reply(desk).press('Enter');
    await desk
      .getByText('Parley could not be reached. Check your connection', { exact: false })
      .waitFor();
    expect(await desk.getByText('Failed to fetch').count()).toBe(0);
    expect(await reply(desk).textContent()).toBe('Sent while offline');
    await desk.close();
  });
});

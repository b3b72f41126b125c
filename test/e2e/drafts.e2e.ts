import { eq } from 'drizzle-orm';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
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
let businessNumber: string;

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
  businessNumber = number.address;
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

  it('says in words that Parley could not be reached, keeps the text, and clears the box once back, but not a refusal', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await desk.screenshot({ path: `${RESULTS_DIR}/failed-unreachable.png` });
    });
    // The live connections go through the test: it drops the first one, and holds the
    // reconnection until the desk has said the connection is down.
    const live: WebSocketRoute[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await desk.routeWebSocket(/\/api\/events/, async (route) => {
      live.push(route);
      if (live.length > 1) await held;
      route.connectToServer();
    });
    await desk.goto(stack.parley.url);
    await signIn(desk);
    await desk.getByText('Connecting to live updates…').waitFor({ state: 'hidden' });
    await openConversation(desk);
    const offline = '**/api/conversations/*/messages';
    await desk.route(offline, (route) => route.abort('internetdisconnected'));
    await reply(desk).fill('Sent while offline');
    await reply(desk).press('Enter');
    const unreachable = desk.getByText('Parley could not be reached. Check your connection', {
      exact: false,
    });
    await unreachable.waitFor();
    expect(await desk.getByText('Failed to fetch').count()).toBe(0);
    expect(await reply(desk).textContent()).toBe('Sent while offline');

    // The connection drops and comes back: the box goes, the text stays and is sent.
    await desk.unroute(offline);
    await live[0]!.close({ code: 1011, reason: 'dropped by the test' });
    await desk.getByRole('alert').getByText('Live updates are interrupted').waitFor();
    expect(await unreachable.count()).toBe(1);
    release();
    await desk.getByText('Live updates are back', { exact: false }).waitFor();
    await unreachable.waitFor({ state: 'hidden' });
    expect(await reply(desk).textContent()).toBe('Sent while offline');
    await reply(desk).press('Enter');
    await stack.received(customer, 'Sent while offline');

    // A refusal is Parley's answer, not an outage: it stays when the connection comes back.
    const refusal = 'This customer has opted out of texts from this number';
    await desk.route(offline, (route) =>
      route.fulfill({
        status: 409,
        contentType: 'application/json',
        body: JSON.stringify({ error: 'conflict', message: refusal }),
      }),
    );
    await reply(desk).fill('Refused by Parley');
    await reply(desk).press('Enter');
    await desk.getByText(refusal).waitFor();
    await live[1]!.close({ code: 1011, reason: 'dropped by the test again' });
    await desk.getByRole('alert').getByText('Live updates are interrupted').waitFor();
    await desk.getByText('Live updates are back', { exact: false }).waitFor();
    expect(await desk.getByText(refusal).count()).toBe(1);
    await desk.close();
  });

  it("prefixes the list's preview with who wrote it: a colleague by name, never You", async () => {
    const eve = await createAgent(stack.db, {
      email: 'eve@e2e.test',
      name: 'Eve',
      role: 'agent',
      password: PASSWORD,
    });
    const handedOver = phoneNumber();
    await stack.text(handedOver, businessNumber, 'Can someone check my refund?');
    await stack.db
      .update(conversations)
      .set({ state: 'active', agentId: eve.id })
      .where(eq(conversations.customerAddress, handedOver));
    const [conversation] = await stack.db
      .select({ id: conversations.id })
      .from(conversations)
      .where(eq(conversations.customerAddress, handedOver));
    // Eve answers through the API, as her desk would; then the conversation goes to Dora.
    const login = await fetch(`${stack.parley.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'eve@e2e.test', password: PASSWORD }),
    });
    const cookie = String(login.headers.get('set-cookie')).split(';')[0]!;
    const sent = await fetch(`${stack.parley.url}/api/conversations/${conversation!.id}/messages`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'Eve here: the refund left today.', attachments: [] }),
    });
    expect(sent.status).toBe(202);
    await stack.db
      .update(conversations)
      .set({ agentId: doraId })
      .where(eq(conversations.id, conversation!.id));

    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await desk.goto(stack.parley.url);
    await signIn(desk);
    const item = desk.getByTestId('conversation-item').filter({ hasText: handedOver });
    await item.getByText('Eve: Eve here: the refund left today.').waitFor();
    expect(await item.getByText('You:', { exact: false }).count()).toBe(0);
    await item.click();
    await reply(desk).fill('Dora now: anything else?');
    await reply(desk).press('Enter');
    await item.getByText('You: Dora now: anything else?').waitFor();
    await desk.close();
  });
});

import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { createQueue } from '../../src/admin/queues.js';
import { createQuickReply } from '../../src/admin/quick-replies.js';
import { offers } from '../../src/db/schema.js';
import { setPresence } from '../../src/routing/presence.js';
import { eventually, Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, seriousViolations, signInAt } from './browser.js';

/** A 2×2 red PNG: the picture the agent sends. */
const PICTURE = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
  'base64',
);
const HANDSET = '+15550002222';
const SECOND_HANDSET = '+15550003333';
const THIRD_HANDSET = '+15550004444';
const PASSWORD = 'correct horse battery';

let stack: Stack;
let browser: Browser;
let businessNumber: string;
let graceId: string;
let adaId: string;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  const agent = await createAgent(stack.db, {
    email: 'ada@e2e.test',
    name: 'Ada',
    role: 'agent',
    password: PASSWORD,
  });
  await createAgent(stack.db, {
    email: 'sam@e2e.test',
    name: 'Sam',
    role: 'supervisor',
    password: PASSWORD,
  });
  await createAgent(stack.db, {
    email: 'root@e2e.test',
    name: 'Root',
    role: 'admin',
    password: PASSWORD,
  });
  // Grace stays offline until the keyboard test, so that every offer before it goes to Ada.
  const grace = await createAgent(stack.db, {
    email: 'grace@e2e.test',
    name: 'Grace',
    role: 'agent',
    password: PASSWORD,
  });
  graceId = grace.id;
  adaId = agent.id;
  const queue = await createQueue(stack.db, {
    name: 'Support',
    offerTimeoutSeconds: 120,
    memberIds: [agent.id, grace.id],
  });
  await createQuickReply(stack.db, {
    title: 'Anything else',
    body: 'Is there anything else I can help you with?',
    queueId: queue.id,
  });
  const { number } = await stack.addNumber({
    flow: {
      name: 'Support',
      businessName: 'E2E Shop',
      queueId: queue.id,
      initialMessage: 'Thanks for texting {businessName}!',
      finalMessage: 'Bye from {businessName}, text us anytime.',
    },
  });
  businessNumber = number.address;
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/**
 * Records what a page asks of hosts other than `ownOrigin`'s, and every Content Security
 * Policy violation it reports (the event and Chromium's console line), into `problems`.
 */
async function watchOutsideRequests(page: Page, ownOrigin: string, problems: string[]) {
  const own = new URL(ownOrigin).host;
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (/^(https?|wss?):$/.test(url.protocol) && url.host !== own) {
      problems.push(`request to ${url.origin}${url.pathname}`);
    }
  });
  page.on('console', (message) => {
    if (/content security policy/i.test(message.text())) problems.push(message.text());
  });
  await page.exposeFunction('reportViolation', (violation: string) => problems.push(violation));
  // A string: this file is compiled without the DOM's types.
  await page.addInitScript(
    "document.addEventListener('securitypolicyviolation', (event) => window.reportViolation(" +
      "'CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI))",
  );
}

function signIn(page: Page, email: string): Promise<void> {
  return signInAt(page, stack.parley.url, email, PASSWORD);
}

async function openPhone(page: Page, handset = HANDSET): Promise<void> {
  await page.goto(`${stack.emulator.url}/phone`);
  await page.getByText('Live', { exact: false }).first().waitFor();
  await page.fill('#handset', handset);
  await page.selectOption('#business', businessNumber);
}

async function textFromPhone(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
  await page.locator('#thread').getByText(text).waitFor();
}

describe('the agent desk in a browser', () => {
  it('answers a text with a picture, ends, and gets the reply to an origination back', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const phone = await browser.newPage({ viewport: { width: 420, height: 800 } });
    // What the pages showed when a step failed, for whoever reads the CI log.
    onTestFailed(async () => {
      await desk.screenshot({ path: join(RESULTS_DIR, 'failed-desk.png') });
      await phone.screenshot({ path: join(RESULTS_DIR, 'failed-handset.png') });
    });
    // The desk asks nothing of any host but Parley (no font CDN), within its CSP.
    const problems: string[] = [];
    const fonts: string[] = [];
    await watchOutsideRequests(desk, stack.parley.url, problems);
    await watchOutsideRequests(phone, stack.emulator.url, problems);
    desk.on('requestfinished', (request) => {
      if (request.resourceType() === 'font') fonts.push(request.url());
    });

    await signIn(desk, 'ada@e2e.test');
    await desk.getByText('Available', { exact: true }).click();
    await expect.poll(() => desk.getByRole('radio', { name: 'Available' }).isChecked()).toBe(true);

    await openPhone(phone);
    await textFromPhone(phone, 'Hello, where is my parcel?');

    // The offer appears with a countdown; the agent accepts it.
    const offer = desk.getByTestId('offer');
    await offer.getByText(HANDSET).waitFor();
    await offer.getByText(/\d+ s left/).waitFor();
    await offer.getByRole('button', { name: 'Accept' }).click();
    const transcript = desk.getByTestId('transcript');
    await transcript.getByText('Hello, where is my parcel?').waitFor();
    // The list says who wrote the latest message: the flow's greeting is no one's "You".
    const myList = desk.getByRole('list', { name: 'My conversations' });
    await myList.getByText('Automated: Thanks for texting E2E Shop!').waitFor();

    // Reply with a picture.
    await desk.getByTestId('attachment-input').setInputFiles({
      name: 'parcel.png',
      mimeType: 'image/png',
      buffer: PICTURE,
    });
    await desk.getByRole('button', { name: 'Remove parcel.png' }).waitFor();
    await desk.getByRole('textbox', { name: 'Reply' }).fill('Here it is, on its way.');
    await desk.getByRole('button', { name: 'Send', exact: true }).click();
    await transcript.getByText('Here it is, on its way.').waitFor();
    // Delivery status comes back from Twilio (the emulator) through the status callback.
    const reply = transcript
      .getByTestId('message-outbound')
      .filter({ hasText: 'Here it is, on its way.' });
    await reply.getByTestId('delivery-status').getByText('delivered').waitFor();
    await reply.getByTestId('media-thumbnail').waitFor();
    await myList.getByText('You: Here it is, on its way.').waitFor();

    // The handset shows the text and the picture.
    const thread = phone.locator('#thread');
    await thread.getByText('Here it is, on its way.').waitFor();
    await thread.locator('img').first().waitFor();
    // A quick reply goes into the emptied composer; Enter sends exactly it.
    await desk.getByRole('button', { name: 'Quick replies' }).click();
    await desk.getByRole('menuitem', { name: 'Anything else' }).click();
    await desk.getByRole('textbox', { name: 'Reply' }).press('Enter');
    await thread
      .getByText('Is there anything else I can help you with?', { exact: true })
      .waitFor();
    await desk.screenshot({ path: join(RESULTS_DIR, 'desk.png') });

    // End: the customer gets the final response.
    await desk.getByRole('button', { name: 'End conversation' }).click();
    await desk
      .getByRole('dialog', { name: 'End conversation' })
      .getByRole('button', { name: 'End conversation' })
      .click();
    await thread.getByText('Bye from E2E Shop, text us anytime.').waitFor();
    await desk.getByText('Choose a conversation, or accept an offer.').waitFor();

    // Originate on-reply; the customer's answer comes back to this agent with the text.
    await desk.getByRole('button', { name: 'New message' }).click();
    const dialog = desk.getByRole('dialog', { name: 'New message' });
    await dialog.getByRole('textbox', { name: 'To' }).fill(HANDSET);
    await dialog.getByRole('textbox', { name: 'Message' }).fill('Your parcel arrives tomorrow.');
    await dialog.getByText('Offer me their reply (on-reply)').click();
    await dialog.getByRole('button', { name: 'Send' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await thread.getByText('Your parcel arrives tomorrow.').waitFor();

    await textFromPhone(phone, 'Great, thank you!');
    await offer.getByText('You wrote: “Your parcel arrives tomorrow.”').waitFor();
    await offer.getByText('Reply to your message').waitFor();
    await offer.getByRole('button', { name: 'Accept' }).click();
    await transcript.getByText('Great, thank you!').waitFor();
    // The conversation starts with the agent's text, then the customer's answer.
    await expect(
      transcript.getByTestId('message-outbound').first().textContent(),
    ).resolves.toContain('Your parcel arrives tomorrow.');
    const contact = desk.getByTestId('contact-panel');
    await contact.getByText('Subscribed').waitFor();
    // The emulator's webhook says FromCountry US, as Twilio does for a US handset.
    await contact.getByText('US', { exact: true }).waitFor();
    await desk.screenshot({ path: join(RESULTS_DIR, 'desk-reply-to-origination.png') });

    await desk.setViewportSize({ width: 390, height: 844 });
    await transcript.getByText('Great, thank you!').waitFor();
    await desk.screenshot({ path: join(RESULTS_DIR, 'desk-phone-width.png') });
    await phone.screenshot({ path: join(RESULTS_DIR, 'desk-handset.png'), fullPage: true });
    expect(problems).toEqual([]);
    expect(fonts.length).toBeGreaterThan(0);
    expect(fonts.every((url) => url.startsWith(`${stack.parley.url}/assets/`))).toBe(true);
  });

  it('works from the keyboard alone and passes axe-core without serious violations', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const phone = await browser.newPage({ viewport: { width: 420, height: 800 } });
    onTestFailed(async () => {
      await desk.screenshot({ path: join(RESULTS_DIR, 'failed-keyboard-desk.png') });
    });

    // Sign in: Tab from the top of the page to the email field, type, Tab, type, Enter.
    await desk.goto(stack.parley.url);
    await desk.getByLabel('Email').waitFor();
    await desk.keyboard.press('Tab');
    await desk.keyboard.type('grace@e2e.test');
    await desk.keyboard.press('Tab');
    await desk.keyboard.type(PASSWORD);
    await desk.keyboard.press('Enter');
    await desk.getByRole('button', { name: 'Sign out' }).waitFor();

    // Presence is a radio group: arrow keys move the choice.
    await desk.getByRole('radio', { name: 'Offline' }).focus();
    await desk.keyboard.press('ArrowLeft');
    await desk.keyboard.press('ArrowLeft');
    await expect.poll(() => desk.getByRole('radio', { name: 'Available' }).isChecked()).toBe(true);

    await openPhone(phone, SECOND_HANDSET);
    await textFromPhone(phone, 'Typing only, please');
    // The offer is announced (role alert) with its buttons reachable by keyboard.
    const offer = desk.getByRole('alert').filter({ hasText: SECOND_HANDSET });
    await offer.waitFor();
    await offer.getByRole('button', { name: 'Accept' }).focus();
    await desk.keyboard.press('Enter');
    await desk.getByTestId('transcript').getByText('Typing only, please').waitFor();

    await desk.getByRole('textbox', { name: 'Reply' }).focus();
    await desk.keyboard.type('Answered without a mouse');
    await desk.keyboard.press('Enter');
    await phone.locator('#thread').getByText('Answered without a mouse').waitFor();

    // Unread counts: with no conversation open, the customer's next text is counted …
    await desk.goto(`${stack.parley.url}/desk`);
    const item = desk.getByTestId('conversation-item').filter({ hasText: SECOND_HANDSET });
    await item.waitFor();
    await textFromPhone(phone, 'Are you still there?');
    await item.getByText('1 unread').waitFor();
    // … and opening the conversation reads it.
    const read = desk.waitForResponse(
      (response) => response.url().endsWith('/read') && response.request().method() === 'POST',
    );
    await item.focus();
    await desk.keyboard.press('Enter');
    await desk.getByTestId('transcript').getByText('Are you still there?').waitFor();
    expect((await read).status()).toBe(204);
    await desk.goto(`${stack.parley.url}/desk`);
    await item.waitFor();
    expect(await item.getByText('unread').count()).toBe(0);
    await item.click();

    // axe-core on the desk with a conversation open; evaluated through the debugger, since
    // the page's CSP refuses the inline script that addScriptTag would add.
    const violations = await seriousViolations(desk);
    expect(violations).toEqual([]);

    await desk.getByRole('button', { name: 'End conversation' }).focus();
    await desk.keyboard.press('Enter');
    const confirm = desk.getByRole('dialog', { name: 'End conversation' });
    await confirm.getByRole('button', { name: 'End conversation' }).focus();
    await desk.keyboard.press('Enter');
    await phone.locator('#thread').getByText('Bye from E2E Shop, text us anytime.').waitFor();
  });

  it('shows the presence the server has, after a reload and when a supervisor changes it', async () => {
    await setPresence(stack.db, graceId, 'away', graceId);
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await signIn(desk, 'grace@e2e.test');
    const checked = (name: string) => desk.getByRole('radio', { name }).isChecked();
    await expect.poll(() => checked('Away')).toBe(true);
    await desk.reload();
    await expect.poll(() => checked('Away')).toBe(true);
    // A supervisor sets her available, then offline: the switch follows.
    await setPresence(stack.db, graceId, 'available', adaId);
    await expect.poll(() => checked('Available')).toBe(true);
    expect(await checked('Away')).toBe(false);
    await setPresence(stack.db, graceId, 'offline', adaId);
    await expect.poll(() => checked('Offline')).toBe(true);
    await desk.close();
  });

  it('catches up on what happened while its live connection was down', async () => {
    await setPresence(stack.db, graceId, 'offline', graceId);
    // Every connection of the page to /api/events, through Playwright: the test drops the
    // first one and holds the reconnection until an offer was made in between.
    const connections: { url: string; route: WebSocketRoute; received: string[] }[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await desk.routeWebSocket(/\/api\/events/, async (route) => {
      const connection = { url: route.url(), route, received: [] as string[] };
      connections.push(connection);
      if (connections.length > 1) await held;
      const server = route.connectToServer();
      server.onMessage((message) => {
        connection.received.push(String(message));
        route.send(message);
      });
    });
    await signIn(desk, 'ada@e2e.test');
    await desk.getByText('Connecting to live updates…').waitFor({ state: 'hidden' });
    expect(connections[0]!.url).not.toContain('after=');

    await connections[0]!.route.close({ code: 1011, reason: 'dropped by the test' });
    await desk.getByRole('alert').getByText('Live updates are interrupted').waitFor();
    const phone = await browser.newPage({ viewport: { width: 420, height: 800 } });
    await openPhone(phone, THIRD_HANDSET);
    await textFromPhone(phone, 'Anyone there while you were away?');
    await eventually(async () => {
      const pending = await stack.db
        .select()
        .from(offers)
        .where(and(eq(offers.agentId, adaId), eq(offers.state, 'pending')));
      return pending.length > 0;
    });

    release();
    await desk.getByText('Live updates are back', { exact: false }).waitFor();
    expect(await desk.getByText('Live updates are interrupted').count()).toBe(0);
    await desk.getByTestId('offer').getByText(THIRD_HANDSET).waitFor();
    const resumed = await eventually(async () => connections[1]);
    expect(resumed.url).toMatch(/after=\d+/);
    // The server replayed what the client missed, before saying it is ready.
    await eventually(async () => resumed.received.some((m) => m.includes('"ready"')));
    const types = resumed.received.map((m) => (JSON.parse(m) as { type: string }).type);
    expect(types.indexOf('offer.created')).toBeGreaterThanOrEqual(0);
    expect(types.indexOf('offer.created')).toBeLessThan(types.indexOf('ready'));
    await desk.getByTestId('offer').getByRole('button', { name: 'Accept' }).click();
    await desk.getByTestId('transcript').getByText('Anyone there while you were away?').waitFor();
  });

  it('shows the supervisor view and the admin console', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signIn(page, 'sam@e2e.test');
    await page.getByRole('heading', { name: 'Queues' }).waitFor();
    await page.getByText('Support').first().waitFor();
    await page.screenshot({ path: join(RESULTS_DIR, 'supervisor.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({
      path: join(RESULTS_DIR, 'supervisor-phone-width.png'),
      fullPage: true,
    });
    // A supervisor has no admin page.
    expect(await page.getByRole('button', { name: 'Admin' }).count()).toBe(0);
    await context.close();

    const adminContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const admin = await adminContext.newPage();
    await signIn(admin, 'root@e2e.test');
    await admin.getByRole('heading', { name: 'Accounts' }).waitFor();
    await admin.getByText('Test account').first().waitFor();
    await admin.screenshot({ path: join(RESULTS_DIR, 'admin.png'), fullPage: true });
    // Renaming keeps the credentials; the table shows the new name.
    await admin.getByRole('button', { name: 'Edit Test account' }).click();
    await admin.getByRole('textbox', { name: 'Name' }).fill('Main account');
    await admin.getByRole('button', { name: 'Check and save' }).click();
    await admin.getByRole('cell', { name: 'Main account', exact: true }).waitFor();

    // Numbers show the URLs to paste into Twilio.
    await admin.getByRole('link', { name: 'Numbers' }).click();
    await admin.getByRole('heading', { name: 'Numbers' }).waitFor();
    await admin.getByText(businessNumber).first().waitFor();
    const webhook = `${stack.config.publicUrl}/webhooks/twilio/messages`;
    await expect.poll(() => admin.getByRole('textbox').first().inputValue()).toBe(webhook);
    // Set in Twilio sets the webhook and its fallback, reads them back and says they match.
    await admin.getByRole('button', { name: `Set in Twilio for ${businessNumber}` }).click();
    await admin
      .getByText(
        new RegExp(
          `^${businessNumber.replace('+', '\\+')}: Twilio's number PN\\w+ sends incoming messages to ${webhook}, falls back to ${webhook}.*as Parley expects\\.$`,
        ),
      )
      .waitFor();
    await admin.screenshot({ path: join(RESULTS_DIR, 'admin-numbers.png'), fullPage: true });

    // A quick reply made in the console reaches the agents of its queue.
    await admin.getByRole('link', { name: 'Quick replies' }).click();
    await admin.getByRole('button', { name: 'New quick reply' }).click();
    await admin.getByRole('textbox', { name: 'Title' }).fill('Shipping');
    await admin.getByRole('textbox', { name: 'Body' }).fill('Parcels ship within 24 hours.');
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByRole('cell', { name: 'Shipping', exact: true }).waitFor();
    await admin.screenshot({ path: join(RESULTS_DIR, 'admin-quick-replies.png'), fullPage: true });
    await admin.setViewportSize({ width: 390, height: 844 });
    await admin.screenshot({ path: join(RESULTS_DIR, 'admin-phone-width.png'), fullPage: true });
    await adminContext.close();
  });
});

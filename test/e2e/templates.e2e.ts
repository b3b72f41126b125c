import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { createQueue } from '../../src/admin/queues.js';
import { createQuickReply } from '../../src/admin/quick-replies.js';
import { phoneNumber } from '../helpers/factories.js';
import { Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, seriousViolations, signInAt } from './browser.js';

const PASSWORD = 'correct horse battery';
const HANDSET = `whatsapp:${phoneNumber()}`;
/** A customer who never wrote: outreach to them starts with a template. */
const NEW_CUSTOMER = phoneNumber();
const SHIPPED = 'Hi {{1}}, your order {{2}} has shipped.';
const CLOSED = 'Thanks for contacting {{1}}. This conversation is closed.';
const WINDOW_OPEN = /^Window closes in 2[34] h( \d+ min)?$/;

let stack: Stack;
let browser: Browser;
let businessNumber: string;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  const ada = await createAgent(stack.db, {
    email: 'ada@templates.test',
    name: 'Ada',
    role: 'agent',
    password: PASSWORD,
  });
  await createAgent(stack.db, {
    email: 'root@templates.test',
    name: 'Root',
    role: 'admin',
    password: PASSWORD,
  });
  const queue = await createQueue(stack.db, {
    name: 'WhatsApp support',
    offerTimeoutSeconds: 120,
    memberIds: [ada.id],
  });
  await createQuickReply(stack.db, {
    title: 'Greeting',
    body: 'Hi {{customerName}}, {{agentName}} here.',
    queueId: queue.id,
  });
  const { number } = await stack.addNumber({
    kind: 'whatsapp',
    address: `whatsapp:${phoneNumber()}`,
    flow: {
      name: 'WhatsApp',
      businessName: 'E2E Shop',
      queueId: queue.id,
      finalMessage: 'Bye from {businessName}.',
    },
  });
  businessNumber = number.address;
  // Templates made in Twilio's Content Template Builder: two approved by WhatsApp, one not.
  await seedTemplate('order_shipped', SHIPPED, { 1: 'Jo', 2: '1234' }, { status: 'approved' });
  await seedTemplate('conversation_closed', CLOSED, { 1: 'our shop' }, { status: 'approved' });
  await seedTemplate('Delivery update', 'Your parcel is on its way.', {}, undefined);
  await seedTemplate(
    'spring_sale',
    'Everything half price this week!',
    {},
    {
      status: 'rejected',
      category: 'MARKETING',
      rejectionReason: 'Promotional content in a utility template',
    },
  );
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** A text template on the emulator's Content API, with WhatsApp's verdict on it. */
async function seedTemplate(
  friendlyName: string,
  body: string,
  variables: Record<string, string>,
  whatsapp: { status: string; category?: string; rejectionReason?: string } | undefined,
): Promise<void> {
  await stack.control('POST', '/_emulator/contents', {
    accountSid: stack.twilio.sid,
    friendlyName,
    language: 'en',
    types: { 'twilio/text': { body } },
    variables,
    whatsapp,
  });
}

function signIn(page: Page, email: string): Promise<void> {
  return signInAt(page, stack.parley.url, email, PASSWORD);
}

/**
 * The customer last wrote 25 hours ago, as far as Parley (its messages) and Twilio (the
 * emulator's record of the handset) know: the window has closed.
 */
async function backdateWindow(conversationId: string): Promise<void> {
  const lastInbound = new Date(Date.now() - 25 * 60 * 60 * 1000).toISOString();
  await stack.db.execute(sql`
    UPDATE messages SET created_at = ${lastInbound}::timestamptz
     WHERE conversation_id = ${conversationId}`);
  await stack.control('POST', `/_emulator/handsets/${encodeURIComponent(HANDSET)}/last-inbound`, {
    sender: businessNumber,
    at: lastInbound,
  });
}

describe('WhatsApp templates in a browser', () => {
  it('syncs the templates, shows WhatsApp’s verdicts, and gives them to a flow and a queue', async () => {
    const admin = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await admin.screenshot({ path: join(RESULTS_DIR, 'failed-templates-admin.png') });
    });
    await signIn(admin, 'root@templates.test');
    await admin.getByRole('link', { name: 'Templates', exact: true }).click();
    await admin.getByRole('heading', { name: 'Templates', level: 1 }).waitFor();
    await admin.getByRole('button', { name: 'Sync from Twilio' }).click();
    await admin.getByText('Synced 4 templates from “Test account”; removed 0.').waitFor();
    const table = admin.getByRole('table', { name: 'Templates' });
    const shipped = table.getByRole('row').filter({ hasText: 'order_shipped' });
    await shipped.getByText('approved', { exact: true }).waitFor();
    await shipped.getByText('UTILITY').waitFor();
    const sale = table.getByRole('row').filter({ hasText: 'spring_sale' });
    await sale.getByText('rejected', { exact: true }).waitFor();
    await sale.getByText('Promotional content in a utility template').waitFor();
    // One never submitted goes to WhatsApp's review from here.
    const delivery = table.getByRole('row').filter({ hasText: 'Delivery update' });
    await delivery.getByText('unsubmitted', { exact: true }).waitFor();
    await delivery.getByRole('button', { name: 'Submit to WhatsApp Delivery update' }).click();
    const review = admin.getByRole('dialog', { name: 'Submit “Delivery update” to WhatsApp' });
    await expect
      .poll(() => review.getByRole('textbox', { name: 'WhatsApp template name' }).inputValue())
      .toBe('delivery_update');
    await review.getByRole('button', { name: 'Submit' }).click();
    await admin.getByText('Submitted “Delivery update” to WhatsApp: received.').waitFor();
    await delivery.getByText('received', { exact: true }).waitFor();
    await admin.screenshot({ path: join(RESULTS_DIR, 'admin-templates.png'), fullPage: true });

    // The flow ends a conversation whose window has closed with a template.
    await admin.getByRole('link', { name: 'Flows' }).click();
    await admin.getByRole('button', { name: 'Edit WhatsApp' }).click();
    const final = admin.getByRole('combobox', { name: 'Final message: template' });
    const approved = await final.locator('option').allTextContents();
    expect(approved).toEqual([
      'None: not sent once the window has closed',
      'conversation_closed (en)',
      'order_shipped (en)',
    ]);
    await final.selectOption({ label: 'conversation_closed (en)' });
    await admin.getByRole('textbox', { name: '{{1}}' }).fill('{{businessName}}');
    await admin
      .getByTestId('template-preview')
      .getByText('Thanks for contacting {{businessName}}. This conversation is closed.')
      .waitFor();
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByText('Saved flow “WhatsApp”.').waitFor();

    // The queue's agents get one template to pick from.
    await admin.getByRole('link', { name: 'Queues' }).click();
    await admin.getByRole('button', { name: 'Edit WhatsApp support' }).click();
    await admin.getByRole('textbox', { name: 'Templates', exact: true }).click();
    await admin.getByRole('option', { name: 'order_shipped (en)' }).click();
    await admin.keyboard.press('Escape');
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByText('Saved queue “WhatsApp support”.').waitFor();
    await admin.close();
  });

  it('counts the window down, then sends an approved template once it has closed', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await desk.screenshot({ path: join(RESULTS_DIR, 'failed-templates-desk.png') });
    });
    await signIn(desk, 'ada@templates.test');
    await desk.getByText('Available', { exact: true }).click();
    await expect.poll(() => desk.getByRole('radio', { name: 'Available' }).isChecked()).toBe(true);

    await stack.text(HANDSET, businessNumber, 'Where is my order?');
    const offer = desk.getByTestId('offer');
    await offer.getByRole('button', { name: 'Accept' }).click();
    const transcript = desk.getByTestId('transcript');
    await transcript.getByText('Where is my order?').waitFor();

    // The customer just wrote: 24 hours to go, counted down by the minute.
    const windowStatus = desk.getByTestId('service-window');
    await windowStatus.getByText(WINDOW_OPEN).waitFor();
    // Within it, free text: a quick reply, its names filled as it goes into the composer.
    await desk.getByRole('button', { name: 'Quick replies' }).click();
    await desk.getByRole('menuitem', { name: 'Greeting' }).click();
    const reply = desk.getByRole('textbox', { name: 'Reply' });
    await expect.poll(() => reply.textContent()).toBe('Hi, Ada here.');
    await reply.press('Enter');
    await stack.received(HANDSET, 'Hi, Ada here.');

    // A day and an hour later (in the database and on Twilio's side), the window has closed.
    const conversationId = new URL(desk.url()).pathname.split('/').pop() ?? '';
    await backdateWindow(conversationId);
    await desk.reload();
    await windowStatus.getByText('Window closed: send a template').waitFor();
    expect(await desk.getByRole('textbox', { name: 'Reply' }).count()).toBe(0);

    // Only the approved template of the queue is offered; its placeholders are fields,
    // previewed live.
    const template = desk.getByRole('combobox', { name: 'Template' });
    const offered = await template.locator('option').allTextContents();
    expect(offered).toEqual(['Choose a template', 'order_shipped (en)']);
    await template.selectOption({ label: 'order_shipped (en)' });
    const first = desk.getByRole('textbox', { name: '{{1}}' });
    expect(await first.getAttribute('placeholder')).toBe('Jo');
    await first.fill('Grace');
    await desk.getByRole('textbox', { name: '{{2}}' }).fill('A-42');
    const preview = desk.getByTestId('template-preview');
    await preview.getByText('Hi Grace, your order A-42 has shipped.').waitFor();
    expect(await seriousViolations(desk)).toEqual([]);
    await desk.screenshot({ path: join(RESULTS_DIR, 'desk-template-picker.png') });

    await desk.getByRole('button', { name: 'Send template' }).click();
    const received = await stack.received(HANDSET, 'Hi Grace, your order A-42 has shipped.');
    expect(received.from).toBe(businessNumber);
    const sent = transcript
      .getByTestId('message-outbound')
      .filter({ hasText: 'Hi Grace, your order A-42 has shipped.' });
    await sent.getByTestId('template-badge').waitFor();
    // The picker is still there: the window stays closed until the customer writes.
    await windowStatus.getByText('Window closed: send a template').waitFor();

    // The customer answers: the window opens again, and free text with it.
    await stack.text(HANDSET, businessNumber, 'Thanks!');
    await transcript.getByText('Thanks!').waitFor();
    await windowStatus.getByText(WINDOW_OPEN).waitFor();
    await desk.getByRole('textbox', { name: 'Reply' }).waitFor();
    await desk.screenshot({ path: join(RESULTS_DIR, 'desk-template-sent.png') });

    // Closed again, the conversation ends with the flow's template instead of its text.
    await backdateWindow(conversationId);
    await desk.reload();
    await windowStatus.getByText('Window closed: send a template').waitFor();
    await desk.getByRole('button', { name: 'End conversation' }).click();
    await desk
      .getByRole('dialog', { name: 'End conversation' })
      .getByRole('button', { name: 'End conversation' })
      .click();
    await stack.received(HANDSET, 'Thanks for contacting E2E Shop. This conversation is closed.');
    await desk.close();
  });

  it('starts a conversation with a template where the customer never wrote', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await desk.screenshot({ path: join(RESULTS_DIR, 'failed-templates-new-message.png') });
    });
    await signIn(desk, 'ada@templates.test');
    await desk.getByRole('button', { name: 'New message' }).click();
    const dialog = desk.getByRole('dialog', { name: 'New message' });
    await dialog.getByRole('combobox', { name: 'From' }).selectOption({ label: businessNumber });
    await dialog.getByRole('textbox', { name: 'To' }).fill(NEW_CUSTOMER);
    await dialog.getByTestId('service-window').waitFor();
    expect(await dialog.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
    await dialog.getByRole('combobox', { name: 'Template' }).selectOption({
      label: 'order_shipped (en)',
    });
    await dialog.getByRole('textbox', { name: '{{1}}' }).fill('Sam');
    await dialog.getByRole('textbox', { name: '{{2}}' }).fill('B-7');
    await dialog.getByText('Hi Sam, your order B-7 has shipped.').waitFor();
    await desk.screenshot({ path: join(RESULTS_DIR, 'new-message-template.png') });
    await dialog.getByRole('button', { name: 'Send' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await stack.received(`whatsapp:${NEW_CUSTOMER}`, 'Hi Sam, your order B-7 has shipped.');
    await desk.close();
  });
});

import { join } from 'node:path';
import { and, eq, ne } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { createQueue } from '../../src/admin/queues.js';
import { editContact } from '../../src/contacts/contact-record.js';
import { contacts, conversations, surveyResponses, users } from '../../src/db/schema.js';
import { eventually, Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, seriousViolations, signInAt } from './browser.js';

const HANDSET = '+15550007777';
const PASSWORD = 'correct horse battery';
const SURVEY = 'How did we do? Reply 1 (poor) to 5 (great).';

let stack: Stack;
let browser: Browser;
let businessNumber: string;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  const agent = await createAgent(stack.db, {
    email: 'ada@contacts.test',
    name: 'Ada',
    role: 'agent',
    password: PASSWORD,
  });
  await createAgent(stack.db, {
    email: 'sam@contacts.test',
    name: 'Sam',
    role: 'supervisor',
    password: PASSWORD,
  });
  const queue = await createQueue(stack.db, {
    name: 'Support',
    offerTimeoutSeconds: 120,
    memberIds: [agent.id],
    dispositions: [{ code: 'resolved', label: 'Resolved' }],
  });
  const { number } = await stack.addNumber({
    flow: {
      name: 'Support',
      businessName: 'Contacts Shop',
      queueId: queue.id,
      surveyMessage: SURVEY,
    },
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

/** The customer texts; the agent accepts the offer and sees the text. */
async function acceptText(desk: Page, body: string): Promise<void> {
  await stack.text(HANDSET, businessNumber, body);
  await desk.getByTestId('offer').getByRole('button', { name: 'Accept' }).click();
  await desk.getByTestId('transcript').getByText(body).waitFor();
}

describe('the contact record in a browser', () => {
  it('is edited from the desk, kept across a reload, and opens a past conversation in place', async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await desk.screenshot({ path: join(RESULTS_DIR, 'failed-contact-record.png') });
    });
    await signIn(desk, 'ada@contacts.test');
    await desk.getByText('Available', { exact: true }).click();
    await expect.poll(() => desk.getByRole('radio', { name: 'Available' }).isChecked()).toBe(true);

    // A first conversation, ended with a disposition; the customer answers the survey "4",
    // then writes again.
    await acceptText(desk, 'Where is order 41?');
    await desk.getByRole('button', { name: 'End conversation' }).click();
    const end = desk.getByRole('dialog', { name: 'End conversation' });
    await end.getByLabel('Disposition').selectOption({ label: 'Resolved' });
    await end.getByRole('button', { name: 'End conversation' }).click();
    await desk.getByText('Choose a conversation, or accept an offer.').waitFor();
    await stack.received(HANDSET, SURVEY);
    await stack.text(HANDSET, businessNumber, '4');
    await eventually(async () => {
      const [answered] = await stack.db
        .select({ score: surveyResponses.score })
        .from(surveyResponses)
        .innerJoin(conversations, eq(conversations.id, surveyResponses.conversationId))
        .where(eq(conversations.customerAddress, HANDSET));
      return answered?.score === 4;
    });
    await acceptText(desk, 'Any news about my order?');

    // The contact panel opens the past conversation in place.
    const panel = desk.getByTestId('contact-panel');
    const pastInPanel = panel.getByTestId('past-conversations').getByRole('button').first();
    await pastInPanel.click();
    await panel.getByTestId('transcript').getByText('Where is order 41?').waitFor();

    // The record: edit the name and a custom attribute.
    await panel.getByRole('link', { name: 'Open contact record' }).click();
    const record = desk.getByTestId('contact-record');
    await record.getByRole('heading', { level: 1, name: HANDSET }).waitFor();
    await record.getByRole('textbox', { name: 'Name', exact: true }).fill('Ana Lima');
    await record.getByRole('button', { name: 'Add attribute' }).click();
    await record.getByRole('textbox', { name: 'Attribute 1 name' }).fill('tier');
    await record.getByRole('textbox', { name: 'Attribute 1 value' }).fill('gold');
    await record.getByRole('button', { name: 'Save' }).click();
    await record.getByRole('status').getByText('Saved').waitFor();
    await record.getByRole('heading', { level: 1, name: 'Ana Lima' }).waitFor();

    await desk.reload();
    await record.getByRole('heading', { level: 1, name: 'Ana Lima' }).waitFor();
    await expect
      .poll(() => record.getByRole('textbox', { name: 'Name', exact: true }).inputValue())
      .toBe('Ana Lima');
    expect(await record.getByRole('textbox', { name: 'Attribute 1 name' }).inputValue()).toBe(
      'tier',
    );
    expect(await record.getByRole('textbox', { name: 'Attribute 1 value' }).inputValue()).toBe(
      'gold',
    );
    await record.getByRole('cell', { name: 'Subscribed' }).waitFor();
    await desk.screenshot({ path: join(RESULTS_DIR, 'contact-record-details.png') });

    // Both conversations are listed, newest first; the first one opens in place.
    const past = record.getByTestId('past-conversations');
    const headings = past.getByRole('button');
    await expect.poll(() => headings.count()).toBe(2);
    expect(await headings.nth(1).textContent()).toContain('ended');
    await headings.nth(1).click();
    // Its disposition and survey score, and its transcript with the customer's rating.
    await past.getByText('Survey: 4/5', { exact: true }).waitFor();
    await past.getByText('Resolved', { exact: true }).waitFor();
    const opened = past.getByTestId('transcript');
    await opened.getByText('Where is order 41?').waitFor();
    await opened.getByText('Ada ended the conversation · Resolved').waitFor();
    await opened.getByText('The customer rated it 4 out of 5').waitFor();
    expect(await opened.getByText('Any news about my order?').count()).toBe(0);
    await desk.screenshot({ path: join(RESULTS_DIR, 'contact-record.png'), fullPage: true });
    // axe-core on the page with a conversation open (through the debugger: the CSP refuses
    // an inline script tag).
    const violations = await seriousViolations(desk);
    expect(violations).toEqual([]);

    // Back on the desk, the panel names the customer as edited.
    await desk.goBack();
    await panel.getByText('Ana Lima').waitFor();
    await desk.close();
  });

  it("is reached by a supervisor from a conversation's transcript", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-contact-record-supervisor.png') });
    });
    await signIn(page, 'sam@contacts.test');
    await page
      .getByRole('button', { name: `Read conversation with ${HANDSET}` })
      .first()
      .click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('link', { name: 'Open contact record' }).click();
    const record = page.getByTestId('contact-record');
    await record.getByRole('heading', { level: 1, name: 'Ana Lima' }).waitFor();
    expect(await record.getByRole('textbox', { name: 'Attribute 1 value' }).inputValue()).toBe(
      'gold',
    );
    // Erasure is for admins: a supervisor has no button for it.
    expect(await record.getByRole('button', { name: 'Erase contact' }).count()).toBe(0);
    await page.close();
  });

  it('keeps the field being typed in when someone else saves the record meanwhile', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-contact-record-meanwhile.png') });
    });
    await signIn(page, 'sam@contacts.test');
    await page
      .getByRole('button', { name: `Read conversation with ${HANDSET}` })
      .first()
      .click();
    await page.getByRole('dialog').getByRole('link', { name: 'Open contact record' }).click();
    const record = page.getByTestId('contact-record');
    await record.getByRole('heading', { level: 1, name: 'Ana Lima' }).waitFor();
    await record.getByRole('button', { name: 'Add attribute' }).click();
    await record.getByRole('textbox', { name: 'Attribute 2 name' }).fill('zone');
    await record.getByRole('textbox', { name: 'Attribute 2 value' }).click();
    await page.keyboard.type('we');

    // Ada saves a note meanwhile; the page reads the record again and shows it.
    const [contact] = await stack.db.select().from(contacts).where(eq(contacts.address, HANDSET));
    const [ada] = await stack.db
      .select({ id: users.id })
      .from(users)
      .where(eq(users.email, 'ada@contacts.test'));
    await editContact(stack.db, contact!.id, { notes: 'Prefers texts after 5 pm' }, ada!.id);
    const notes = record.getByRole('textbox', { name: 'Notes' });
    await expect.poll(() => notes.inputValue()).toBe('Prefers texts after 5 pm');
    // Still in the value's field: the rest of the word lands there.
    await page.keyboard.type('st');
    await record.getByRole('button', { name: 'Save' }).click();
    await record.getByRole('status').getByText('Saved').waitFor();

    await page.reload();
    await record.getByRole('heading', { level: 1, name: 'Ana Lima' }).waitFor();
    await expect
      .poll(() => record.getByRole('textbox', { name: 'Attribute 2 value' }).inputValue())
      .toBe('west');
    expect(await record.getByRole('textbox', { name: 'Attribute 2 name' }).inputValue()).toBe(
      'zone',
    );
    expect(await record.getByRole('textbox', { name: 'Attribute 1 value' }).inputValue()).toBe(
      'gold',
    );
    expect(await notes.inputValue()).toBe('Prefers texts after 5 pm');
    await page.close();
  });

  it('is erased by an admin after a confirmation', async () => {
    await createAgent(stack.db, {
      email: 'root@contacts.test',
      name: 'Root',
      role: 'admin',
      password: PASSWORD,
    });
    const handset = '+15550008888';
    await stack.text(handset, businessNumber, 'Please forget me, Zed Quist');
    // STOP ends the conversation: an open one would have to be ended first.
    await stack.text(handset, businessNumber, 'STOP');
    const [contact] = await stack.db.select().from(contacts).where(eq(contacts.address, handset));
    await eventually(async () => {
      const open = await stack.db.$count(
        conversations,
        and(eq(conversations.contactId, contact!.id), ne(conversations.state, 'closed')),
      );
      return open === 0;
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-contact-erasure.png') });
    });
    await signIn(page, 'root@contacts.test');
    await page.goto(`${stack.parley.url}/contacts/${contact!.id}`);
    const record = page.getByTestId('contact-record');
    await record.getByRole('heading', { level: 1, name: handset }).waitFor();
    await record.getByRole('button', { name: 'Erase contact' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Erase this contact?' });
    // Keeping it changes nothing.
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await record.getByRole('heading', { level: 1, name: handset }).waitFor();
    await record.getByRole('button', { name: 'Erase contact' }).click();
    await dialog.getByRole('button', { name: 'Erase' }).click();
    await record
      .getByTestId('erasure-report')
      .getByText(/Erased 2 messages/)
      .waitFor();
    await record.getByRole('heading', { level: 1, name: `erased:${contact!.id}` }).waitFor();
    await record.getByText(/^Erased on/).waitFor();
    await record.getByText(/an opt-out they gave is kept apart/).waitFor();
    await page.screenshot({ path: join(RESULTS_DIR, 'contact-erased.png'), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });
});

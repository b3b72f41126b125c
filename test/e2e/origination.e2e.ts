/**
 * Origination controls and task templates in the desk's New message: only the numbers the
 * agent may use, their queue's default sender and its strategy preselected, and a task
 * template filled in with a preview.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { updateNumber } from '../../src/admin/numbers.js';
import { createOriginationTemplate } from '../../src/admin/origination-templates.js';
import { createQueue, updateQueue } from '../../src/admin/queues.js';
import { shortCodeNumber } from '../helpers/factories.js';
import { Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR } from './browser.js';

const PASSWORD = 'correct horse battery';
const HANDSET = '+15550006666';

let stack: Stack;
let browser: Browser;
let flowNumber: string;
let defaultSender: string;
let shortCode: string;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  const agent = await createAgent(stack.db, {
    email: 'ada@origination.test',
    name: 'Ada',
    role: 'agent',
    password: PASSWORD,
  });
  const queue = await createQueue(stack.db, { name: 'Outreach', memberIds: [agent.id] });
  const routed = await stack.addNumber({ flow: { name: 'Outreach', queueId: queue.id } });
  const sender = await stack.addNumber();
  const campaign = await stack.addNumber({ kind: 'short-code', address: shortCodeNumber() });
  await updateNumber(stack.db, sender.number.id, {
    name: 'Outreach line',
    defaultStrategy: 'assign-now',
  });
  await updateQueue(stack.db, queue.id, { defaultSenderNumberId: sender.number.id });
  await createOriginationTemplate(stack.db, {
    name: 'Order ready',
    numberId: routed.number.id,
    strategy: 'on-reply',
    body: 'Hi {{firstName}}, order {{orderId}} is ready. {{agentName}}',
  });
  await createOriginationTemplate(stack.db, {
    name: 'Campaign',
    numberId: campaign.number.id,
    strategy: 'on-reply',
    body: 'Sale today',
  });
  flowNumber = routed.number.address;
  defaultSender = sender.number.address;
  shortCode = campaign.number.address;
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('New message in a browser', () => {
  it("preselects the queue's default sender, hides short codes, and sends a task template", async () => {
    const desk = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async () => {
      await desk.screenshot({ path: join(RESULTS_DIR, 'failed-origination.png') });
    });
    await desk.goto(stack.parley.url);
    await desk.getByLabel('Email').fill('ada@origination.test');
    await desk.getByLabel('Password').fill(PASSWORD);
    await desk.getByRole('button', { name: 'Sign in' }).click();
    await desk.getByRole('button', { name: 'New message' }).click();
    const dialog = desk.getByRole('dialog', { name: 'New message' });

    const from = dialog.getByRole('combobox', { name: 'From' });
    await expect.poll(() => from.inputValue()).not.toBe('');
    const options = await from.locator('option').allTextContents();
    expect(options[0]).toBe(`Outreach line (${defaultSender})`);
    expect(options).toContain(flowNumber);
    expect(options.some((o) => o.includes(shortCode))).toBe(false);
    expect(await dialog.getByRole('radio', { name: /assign-now/ }).isChecked()).toBe(true);
    // Another number brings its own default strategy.
    await from.selectOption({ label: flowNumber });
    expect(await dialog.getByRole('radio', { name: /on-reply/ }).isChecked()).toBe(true);

    // The number as people type it: with its country code and no +, or in national format
    // of the sending number's account's country.
    const to = dialog.getByRole('textbox', { name: 'To' });
    for (const typed of ['14252306549', '(425) 230-6549', '425-230-6549']) {
      await to.fill(typed);
      await dialog.getByText('Sends to +14252306549').waitFor();
    }
    await to.fill(HANDSET);
    await dialog.getByText('From a task template').click();
    const template = dialog.getByRole('combobox', { name: 'Task template' });
    expect(await template.locator('option').allTextContents()).toEqual(['Order ready']);
    await dialog.getByRole('textbox', { name: 'firstName' }).fill('Bo');
    const preview = dialog.getByTestId('task-template-preview');
    await expect.poll(() => preview.textContent()).toBe('Hi Bo, order {{orderId}} is ready. Ada');
    // A blank orderId (the browser asks for any text): the server names it beside its field.
    await dialog.getByRole('textbox', { name: 'orderId' }).fill('   ');
    await dialog.getByRole('button', { name: 'Send' }).click();
    await dialog.getByText('template "Order ready" needs a value for {{orderId}}').waitFor();
    await dialog.getByRole('textbox', { name: 'orderId' }).fill('A-17');
    await expect.poll(() => preview.textContent()).toBe('Hi Bo, order A-17 is ready. Ada');
    await desk.screenshot({ path: join(RESULTS_DIR, 'origination-task-template.png') });
    await dialog.getByRole('button', { name: 'Send' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const received = await stack.received(HANDSET, 'Hi Bo, order A-17 is ready. Ada');
    expect(received.from).toBe(flowNumber);
  });
});

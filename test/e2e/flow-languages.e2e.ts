import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createAgent } from '../../src/admin/agents.js';
import { flows } from '../../src/db/schema.js';
import { Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, signInAt } from './browser.js';

const PASSWORD = 'correct horse battery';

let stack: Stack;
let browser: Browser;
let flowId: string;

beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
  await createAgent(stack.db, {
    email: 'root@languages.test',
    name: 'Root',
    role: 'admin',
    password: PASSWORD,
  });
  const { flow } = await stack.addNumber({
    flow: { name: 'Support', initialMessage: 'Hello!', finalMessage: 'Goodbye.' },
  });
  flowId = flow!.id;
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

function signIn(page: Page, email: string): Promise<void> {
  return signInAt(page, stack.parley.url, email, PASSWORD);
}

describe('the flow form', () => {
  it("sets the agents' attachment switch, the outreach greeting, the language and a Spanish variant", async () => {
    const admin = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await admin.screenshot({ path: join(RESULTS_DIR, 'failed-flow-languages.png') });
    });
    await signIn(admin, 'root@languages.test');
    await admin.getByRole('link', { name: 'Flows' }).click();
    await admin.getByRole('button', { name: 'Edit Support' }).click();

    // Paste's switch input is hidden under its label, which is what a person clicks.
    await admin.getByText('Agents may send attachments', { exact: true }).click();
    await admin.getByText("Greet replies to an agent's outreach", { exact: true }).click();
    expect(
      await admin.getByRole('switch', { name: 'Agents may send attachments' }).isChecked(),
    ).toBe(false);
    await admin.getByRole('button', { name: /Add a language/ }).click();
    // A tag that is no language is named next to its row, in a sentence.
    await admin.getByRole('textbox', { name: 'Language (language 1)' }).fill('Spanish!');
    await admin
      .getByRole('textbox', { name: 'Initial message (language Spanish!)' })
      .fill('¡Hola!');
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin
      .getByText('“Spanish!”: a language is a BCP 47 tag such as en, es or fr-CA')
      .first()
      .waitFor();

    await admin.getByRole('textbox', { name: 'Language (language Spanish!)' }).fill('es');
    await admin.getByRole('textbox', { name: 'Final message (language es)' }).fill('Adiós.');
    await admin
      .getByRole('group', { name: 'Messages in other languages' })
      .screenshot({ path: join(RESULTS_DIR, 'admin-flow-languages.png') });
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByText('Saved flow “Support”.').waitFor();

    const [saved] = await stack.db.select().from(flows).where(eq(flows.id, flowId));
    expect(saved).toMatchObject({
      allowAttachments: true,
      allowAgentAttachments: false,
      greetOutreachReplies: true,
      language: 'en',
      messageVariants: { es: { initial: '¡Hola!', final: 'Adiós.' } },
    });
    await admin.getByRole('cell', { name: 'Customers: yes, agents: no' }).waitFor();
    await admin.close();
  });

  it('marks every field at fault at once, each in a sentence naming it, and saves nothing', async () => {
    const admin = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await admin.screenshot({ path: join(RESULTS_DIR, 'failed-flow-form-errors.png') });
    });
    await signIn(admin, 'root@languages.test');
    await admin.getByRole('link', { name: 'Flows' }).click();
    await admin.getByRole('button', { name: 'Edit Support' }).click();
    const [before] = await stack.db.select().from(flows).where(eq(flows.id, flowId));

    await admin.getByRole('textbox', { name: 'Bot URL' }).fill('https://bot.example.com/hook');
    await admin.getByRole('spinbutton', { name: 'Bot retries' }).fill('99');
    await admin.getByRole('spinbutton', { name: 'Bot timeout (ms)' }).fill('5');
    await admin.getByRole('textbox', { name: 'Language of these messages' }).fill('English!');
    await admin.getByRole('button', { name: 'Save' }).click();

    const summary = admin.getByRole('alert').filter({ hasText: 'Fix these to save' });
    await summary.waitFor();
    const lines = await summary.getByRole('listitem').allTextContents();
    expect(lines).toEqual([
      'Bot retries must be at most 10.',
      'Bot timeout (ms) must be at least 100.',
      'Language: a language is a BCP 47 tag such as en, es or fr-CA.',
    ]);
    for (const line of lines) expect(line).not.toMatch(/Too big|Too small|expected|Invalid/);
    // Each field shows its own sentence too, not only the summary.
    for (const line of lines) expect(await admin.getByText(line, { exact: true }).count()).toBe(2);
    const [after] = await stack.db.select().from(flows).where(eq(flows.id, flowId));
    expect(after).toEqual(before);

    // Correcting a field answers its error: the others stay until they are fixed.
    await admin.getByRole('spinbutton', { name: 'Bot retries' }).fill('3');
    await expect.poll(() => summary.getByRole('listitem').count()).toBe(2);
    await admin.close();
  });
});

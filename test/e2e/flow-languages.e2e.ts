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
});

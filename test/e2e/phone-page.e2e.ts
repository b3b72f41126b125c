import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR } from './browser.js';

let stack: Stack;
let browser: Browser;
beforeAll(async () => {
  stack = await Stack.start();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe("the emulator's phone page", () => {
  it('texts a business number and shows the reply live', async () => {
    const { number } = await stack.addNumber({
      flow: { name: 'Phone page', initialMessage: 'Hello from the flow!' },
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${stack.emulator.url}/phone`);
    await page
      .getByText('Live', { exact: false })
      .first()
      .waitFor({ timeout: 10_000 })
      .catch(() => {});
    await page.fill('#handset', '+15550001111');
    await page.selectOption('#business', number.address);
    await page.fill('#text', 'Hi from a real browser');
    await page.click('#send');
    const thread = page.locator('#thread');
    await thread.getByText('Hi from a real browser').waitFor();
    await thread.getByText('Hello from the flow!').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(RESULTS_DIR, 'phone-page.png'), fullPage: true });
    expect(await thread.textContent()).toContain('Hello from the flow!');
  });
});

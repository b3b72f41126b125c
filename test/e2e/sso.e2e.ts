import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startOidcProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { freePort, Stack } from '../helpers/stack.js';
import { launchBrowser, RESULTS_DIR, seriousViolations } from './browser.js';

let provider: TestProvider;
/** SSO only. */
let stack: Stack;
/** SSO and passwords. */
let both: Stack;
let browser: Browser;
/**
 * Parley at `localhost` and the provider at 127.0.0.1: two sites, so the way back from the
 * provider is a cross-site navigation, as with a real provider.
 */
let parleyUrl: string;
let bothUrl: string;

beforeAll(async () => {
  const [port, bothPort] = [await freePort(), await freePort()];
  parleyUrl = `http://localhost:${port}`;
  bothUrl = `http://localhost:${bothPort}`;
  provider = await startOidcProvider(
    [parleyUrl, bothUrl].map((url) => `${url}/api/auth/oidc/callback`),
  );
  provider.accounts.set('lin', {
    email: 'lin@e2e.test',
    email_verified: true,
    name: 'Lin',
    groups: ['parley-admins'],
  });
  provider.accounts.set('kai', {
    email: 'kai@e2e.test',
    email_verified: true,
    name: 'Kai',
    groups: ['parley-agents'],
  });
  const sso = {
    ...provider.env,
    OIDC_ROLE_CLAIM: 'groups',
    OIDC_ROLE_MAP: 'parley-admins=admin,parley-agents=agent',
    OIDC_CREATE_USERS: 'true',
  };
  stack = await Stack.start({
    PORT: String(port),
    PUBLIC_URL: parleyUrl,
    ...sso,
    PASSWORD_SIGN_IN: 'false',
  });
  both = await Stack.start({
    PORT: String(bothPort),
    PUBLIC_URL: bothUrl,
    ...sso,
    OIDC_BUTTON_LABEL: 'Sign in with Acme ID',
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await both?.close();
  await provider?.close();
});

describe('single sign-on in a browser', () => {
  it('signs in through the provider and lands on the page of the role the provider gives', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-sso.png'), fullPage: true });
    });
    await page.goto(parleyUrl);
    const sso = page.getByRole('link', { name: 'Sign in with SSO' });
    await sso.waitFor();
    // Passwords are off: the page offers single sign-on only.
    expect(await page.getByLabel('Password').count()).toBe(0);
    await page.screenshot({ path: join(RESULTS_DIR, 'sso-sign-in.png') });
    expect(await seriousViolations(page)).toEqual([]);

    await sso.click();
    await page.getByPlaceholder('Enter any login').fill('lin');
    await page.getByPlaceholder('and password').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await expect.poll(() => new URL(page.url()).pathname).toBe('/admin');
    expect(new URL(page.url()).origin).toBe(parleyUrl);
    await page.close();
  });

  it('says why on the sign-in page when the person cancels at the provider', async () => {
    const page = await browser.newPage();
    await page.goto(parleyUrl);
    await page.getByRole('link', { name: 'Sign in with SSO' }).click();
    await page.getByRole('link', { name: /Cancel/ }).click();
    await page
      .getByRole('alert')
      .getByText(/cancelled at the sign-in provider/)
      .waitFor();
    // The reason leaves the address, so a reload does not repeat it.
    expect(new URL(page.url()).search).toBe('');
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });

  it('offers both ways side by side, and lands an agent on the desk', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    onTestFailed(async () => {
      await page.screenshot({ path: join(RESULTS_DIR, 'failed-sso-both.png'), fullPage: true });
    });
    await page.goto(bothUrl);
    const sso = page.getByRole('link', { name: 'Sign in with Acme ID' });
    await sso.waitFor();
    await page.getByLabel('Password').waitFor();
    await page.screenshot({ path: join(RESULTS_DIR, 'sso-and-password-sign-in.png') });
    expect(await seriousViolations(page)).toEqual([]);

    await sso.click();
    await page.getByPlaceholder('Enter any login').fill('kai');
    await page.getByPlaceholder('and password').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await expect.poll(() => new URL(page.url()).pathname).toBe('/desk');
    await page.close();
  });
});

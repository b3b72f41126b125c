import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, spawnTs, waitForOutput } from './helpers/processes.js';
import { freePort } from './helpers/stack.js';

async function startDemo(env: Record<string, string>, emulatorPort: number) {
  const child = spawnTs(
    'src/cli.ts',
    ['start', '--demo', '--emulator-port', String(emulatorPort)],
    env,
  );
  const exit = collect(child);
  const [output] = await waitForOutput(
    child,
    /Twilio emulator[\s\S]*Demo users[^\n]*\n(?:\s+\S+\s+\S+\s+\S+\n){4}/,
  );
  return { child, exit, output };
}

describe('npm start (the demo)', () => {
  it('runs Parley with the emulator and demo data, and a handset text gets the initial response', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-demo-'));
    const port = await freePort();
    const emulatorPort = await freePort();
    const env = { DATA_DIR: dataDir, PORT: String(port) };
    const first = await startDemo(env, emulatorPort);
    const emulator = `http://127.0.0.1:${emulatorPort}`;
    expect(first.output).toContain(`phone page: ${emulator}/phone`);
    const password = first.output.match(/admin\s+admin@demo\.parley\s+(\S+)/)?.[1];
    const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@demo.parley', password }),
    });
    expect(login.status).toBe(200);

    const handset = '+15557770001';
    await fetch(`${emulator}/_emulator/handsets/${encodeURIComponent(handset)}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+15555550100', body: 'Hi there' }),
    });
    const inbox = (await (
      await fetch(`${emulator}/_emulator/handsets/${encodeURIComponent(handset)}/inbox?wait=15000`)
    ).json()) as { messages: { body: string }[] };
    expect(inbox.messages[0]?.body).toBe(
      'Thanks for texting Parley Demo! An agent will be with you shortly.',
    );
    first.child.kill('SIGTERM');
    expect((await first.exit).code).toBe(0);

    // A second start keeps the data, teaches the fresh emulator the numbers, and new passwords work.
    const second = await startDemo(env, emulatorPort);
    const again = second.output.match(/admin\s+admin@demo\.parley\s+(\S+)/)?.[1];
    expect(again).not.toBe(password);
    const numbers = (await (await fetch(`${emulator}/_emulator/numbers`)).json()) as {
      phoneNumber: string;
    }[];
    expect(numbers.map((n) => n.phoneNumber).sort()).toEqual(['+15555550100', '+18885550100']);
    second.child.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
  });
});

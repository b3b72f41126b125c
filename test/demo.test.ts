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
    /(?:Twilio emulator|Phone page)[\s\S]*Demo users[^\n]*\n(?:\s+\S+\s+\S+\s+\S+\n){5}/,
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
    // Case-insensitive: the banner's wording is the CLI's to change.
    expect(first.output).toMatch(new RegExp(`phone page:\\s+${emulator}/phone`, 'i'));
    const password = first.output.match(/admin\s+admin@demo\.parley\s+(\S+)/)?.[1];
    const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@demo.parley', password }),
    });
    expect(login.status).toBe(200);
    const cookie = String(login.headers.get('set-cookie')).split(';')[0]!;
    const asAdmin = async (path: string) =>
      (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { cookie } })).json();
    // Three agents in the demo queue, each listed with a password.
    for (const name of ['ada', 'grace', 'linus']) {
      expect(first.output).toMatch(new RegExp(`agent\\s+${name}@demo\\.parley\\s+\\S+`));
    }
    const [queue] = (await asAdmin('/api/admin/queues')) as { id: string }[];
    const { memberIds } = (await asAdmin(`/api/admin/queues/${queue!.id}`)) as {
      memberIds: string[];
    };
    expect(memberIds).toHaveLength(3);
    const quickReplies = (await asAdmin('/api/quick-replies')) as { title: string }[];
    expect(quickReplies.map((r) => r.title)).toEqual(['Closing', 'Greeting']);

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

    // A number an admin adds is registered on the emulated Twilio first: it is texted at once.
    const [account] = (await asAdmin('/api/admin/accounts')) as { id: string }[];
    const added = await fetch(`http://127.0.0.1:${port}/api/admin/numbers`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ accountId: account!.id, address: '(555) 777-0199' }),
    });
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({
      address: '+15557770199',
      twilioSid: expect.stringMatching(/^PN/),
      capabilities: ['sms', 'mms'],
    });
    const texted = (await (
      await fetch(`${emulator}/_emulator/handsets/${encodeURIComponent('+15557770002')}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: '+15557770199', body: 'Is this the new number?' }),
      })
    ).json()) as { webhook: { status: number } };
    expect(texted.webhook.status).toBe(200);
    first.child.kill('SIGTERM');
    expect((await first.exit).code).toBe(0);

    // A second start keeps the data, teaches the fresh emulator the numbers, and new passwords work.
    const second = await startDemo(env, emulatorPort);
    const again = second.output.match(/admin\s+admin@demo\.parley\s+(\S+)/)?.[1];
    expect(again).not.toBe(password);
    const numbers = (await (await fetch(`${emulator}/_emulator/numbers`)).json()) as {
      phoneNumber: string;
    }[];
    expect(numbers.map((n) => n.phoneNumber).sort()).toEqual([
      '+15555550100',
      '+15557770199',
      '+18885550100',
      'whatsapp:+15555550101',
    ]);
    // The demo's content templates, taught to the emulator again and synced into Parley.
    const contents = (await (await fetch(`${emulator}/_emulator/contents`)).json()) as {
      sid: string;
    }[];
    expect(contents.map((c) => c.sid)).toContain('HX00000000000000000000000000000001');
    // Seeded once: the second start added no second set of quick replies.
    const relogin = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@demo.parley', password: again }),
    });
    const cookieAgain = String(relogin.headers.get('set-cookie')).split(';')[0]!;
    const replies = (await (
      await fetch(`http://127.0.0.1:${port}/api/quick-replies`, {
        headers: { cookie: cookieAgain },
      })
    ).json()) as unknown[];
    expect(replies).toHaveLength(2);
    second.child.kill('SIGTERM');
    expect((await second.exit).code).toBe(0);
  });
});

describe('the demo on every interface', () => {
  it('keeps the emulator on loopback when HOST is 0.0.0.0, and says so', async () => {
    const port = await freePort();
    const emulatorPort = await freePort();
    const demo = await startDemo(
      {
        DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-demo-')),
        HOST: '0.0.0.0',
        PORT: String(port),
      },
      emulatorPort,
    );
    try {
      expect(demo.output).toMatch(
        new RegExp(
          `Twilio emulator:\\s+http://127\\.0\\.0\\.1:${emulatorPort}\\s+\\(loopback only`,
        ),
      );
      // 127.0.0.2 is this machine too, but only a socket on every interface answers there:
      // Parley does, the emulator must not.
      expect((await fetch(`http://127.0.0.2:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${emulatorPort}/_emulator/accounts`)).status).toBe(200);
      await expect(fetch(`http://127.0.0.2:${emulatorPort}/_emulator/accounts`)).rejects.toThrow();
    } finally {
      demo.child.kill('SIGTERM');
      expect((await demo.exit).code).toBe(0);
    }
  });

  it('exposes the emulator only when EMULATOR_HOST asks, with a warning', async () => {
    const emulatorPort = await freePort();
    const demo = await startDemo(
      {
        DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-demo-')),
        HOST: '0.0.0.0',
        EMULATOR_HOST: '0.0.0.0',
        PORT: String(await freePort()),
      },
      emulatorPort,
    );
    try {
      expect(demo.output).toMatch(/Twilio emulator:.*WARNING: listening on 0\.0\.0\.0/);
      expect((await fetch(`http://127.0.0.2:${emulatorPort}/_emulator/accounts`)).status).toBe(200);
    } finally {
      demo.child.kill('SIGTERM');
      const exit = await demo.exit;
      expect(exit.code).toBe(0);
      expect(exit.stdout).toContain('reachable from the network');
    }
  });
});

describe('logs at a terminal', () => {
  it('are readable lines without one per request (LOG_FORMAT=pretty, the default on a terminal)', async () => {
    const port = await freePort();
    const demo = await startDemo(
      {
        DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-demo-')),
        PORT: String(port),
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'pretty',
      },
      await freePort(),
    );
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    demo.child.kill('SIGTERM');
    const { code, stdout } = await demo.exit;
    expect(code).toBe(0);
    expect(stdout).toMatch(/INFO.*Parley is listening/);
    expect(stdout).not.toContain('{"level"');
    expect(stdout).not.toMatch(/request completed|incoming request/);
  });
});

describe('logs off a terminal', () => {
  it('are JSON lines when LOG_FORMAT is unset and the output is no terminal (a pipe here)', async () => {
    const port = await freePort();
    const demo = await startDemo(
      {
        DATA_DIR: mkdtempSync(join(tmpdir(), 'parley-demo-')),
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      await freePort(),
    );
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    demo.child.kill('SIGTERM');
    const { code, stdout } = await demo.exit;
    expect(code).toBe(0);
    const lines = stdout.split('\n').filter((line) => line.startsWith('{'));
    const listening = lines
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .find((line) => line.msg === 'Parley is listening');
    expect(listening).toMatchObject({ level: 30 });
    expect(stdout).not.toMatch(/INFO.*Parley is listening/);
  });
});

import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { createAccount, getAccountCredentials, listAccounts } from './admin/accounts.js';
import type { PrepareNumberOnTwilio } from './admin/admin.routes.js';
import { createAgent } from './admin/agents.js';
import { createNumber, listNumbers } from './admin/numbers.js';
import { createQueue } from './admin/queues.js';
import { createQuickReply } from './admin/quick-replies.js';
import { hashPassword } from './auth/passwords.js';
import { createTwilioClient } from './channels/twilio/client.js';
import { WEBHOOK_PATH } from './channels/twilio/webhooks.js';
import { syncContentTemplates } from './content/content-templates.js';
import { users } from './db/schema.js';
import type { Db } from './db/store.js';
import { AppError } from './errors.js';
import { createFlow, listFlows } from './flows/flows.js';
import type { SecretBox } from './secret-box.js';

const DEMO_ACCOUNT = 'Demo (Twilio emulator)';
export const DEMO_NUMBERS = ['+15555550100', '+18885550100', 'whatsapp:+15555550101'];
/**
 * Content templates the emulator is taught at every start (it keeps nothing), with SIDs of
 * their own so that a flow's choice of one survives a restart.
 */
const DEMO_TEMPLATES = [
  {
    sid: 'HX00000000000000000000000000000001',
    friendlyName: 'order_shipped',
    body: 'Hi {{1}}, your order {{2}} has shipped. Reply here with any question.',
    variables: { 1: 'Ann', 2: 'A-1138' },
    status: 'approved',
  },
  {
    sid: 'HX00000000000000000000000000000002',
    friendlyName: 'follow_up',
    body: 'Hi {{1}}, this is {{2}} from Parley Demo. Do you still need help? Reply to continue.',
    variables: { 1: 'Ann', 2: 'Ada' },
    status: 'approved',
  },
  {
    sid: 'HX00000000000000000000000000000003',
    friendlyName: 'conversation_closed',
    body: 'Thanks for chatting with {{1}}. Write to us here anytime.',
    variables: { 1: 'Parley Demo' },
    status: 'approved',
  },
  {
    sid: 'HX00000000000000000000000000000004',
    friendlyName: 'spring_offer',
    body: 'Hi {{1}}, this week only: 20% off everything with code {{2}}.',
    variables: { 1: 'Ann', 2: 'SPRING' },
    status: 'pending',
  },
] as const;
const DEMO_QUICK_REPLIES = [
  { title: 'Greeting', body: 'Hi, thanks for texting us! How can I help?' },
  { title: 'Closing', body: 'Is there anything else I can help you with?' },
];
const DEMO_AGENTS = [
  { email: 'ada@demo.parley', name: 'Ada', role: 'agent' as const },
  { email: 'grace@demo.parley', name: 'Grace', role: 'agent' as const },
  { email: 'linus@demo.parley', name: 'Linus', role: 'agent' as const },
  { email: 'sam@demo.parley', name: 'Sam', role: 'supervisor' as const },
  { email: 'admin@demo.parley', name: 'Admin', role: 'admin' as const },
];

export interface DemoLogin {
  email: string;
  role: string;
  password: string;
}

/**
 * Demo data on first start (an account, two numbers, a flow with hours and messages, a
 * queue of three agents with its quick replies, a supervisor and an admin), and on every
 * start: the emulator taught the account and numbers again (it keeps nothing across
 * restarts) and fresh passwords for the demo users.
 */
export async function prepareDemo(
  db: Db,
  secretBox: SecretBox,
  emulatorUrl: string,
  publicUrl: string,
): Promise<DemoLogin[]> {
  let account = (await listAccounts(db, 'include')).find((a) => a.name === DEMO_ACCOUNT);
  if (!account) {
    account = await createAccount(db, secretBox, {
      name: DEMO_ACCOUNT,
      accountSid: `AC${randomBytes(16).toString('hex')}`,
      authToken: randomBytes(16).toString('hex'),
    });
    await seed(db);
  }
  await addMissingNumbers(db, account.id);
  const credentials = await getAccountCredentials(db, secretBox, account.id);
  await control(emulatorUrl, '/_emulator/accounts', {
    sid: credentials.accountSid,
    authToken: credentials.authToken,
    friendlyName: DEMO_ACCOUNT,
  });
  const teach = numbersOnEmulator(emulatorUrl, publicUrl);
  for (const number of await listNumbers(db, 'include')) {
    if (number.accountId !== account.id) continue;
    await teach({ accountSid: credentials.accountSid, address: number.address, kind: number.kind });
  }
  for (const template of DEMO_TEMPLATES) {
    await control(emulatorUrl, '/_emulator/contents', {
      sid: template.sid,
      accountSid: credentials.accountSid,
      friendlyName: template.friendlyName,
      types: { 'twilio/text': { body: template.body } },
      variables: template.variables,
      whatsapp: { status: template.status, category: 'UTILITY' },
    });
  }
  const client = createTwilioClient(credentials, emulatorUrl);
  await syncContentTemplates(db, { forAccount: async () => client }, account.id);

  const logins: DemoLogin[] = [];
  for (const agent of DEMO_AGENTS) {
    const password = randomBytes(6).toString('base64url');
    const updated = await db
      .update(users)
      .set({ passwordHash: await hashPassword(password) })
      .where(eq(users.email, agent.email))
      .returning({ id: users.id });
    // A data directory seeded by an older version lacks the users added since: list only
    // those who can sign in.
    if (updated.length > 0) logins.push({ email: agent.email, role: agent.role, password });
  }
  return logins;
}

async function seed(db: Db): Promise<void> {
  const members: string[] = [];
  for (const agent of DEMO_AGENTS) {
    const created = await createAgent(db, {
      ...agent,
      password: randomBytes(12).toString('base64url'),
      capacitySms: 3,
      languages: ['en'],
    });
    if (agent.role === 'agent') members.push(created.id);
  }
  const queue = await createQueue(db, {
    name: 'Support',
    strategy: 'longest-idle',
    offerTimeoutSeconds: 30,
    memberIds: members,
  });
  await createFlow(db, {
    name: 'Support',
    businessName: 'Parley Demo',
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    queueId: queue.id,
    // Open all day, so that a newcomer trying the demo at night still reaches an agent.
    hours: [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({
      weekday,
      opensAt: '00:00',
      closesAt: '23:59',
    })),
    initialMessage: 'Thanks for texting {businessName}! An agent will be with you shortly.',
    outOfHoursMessage: '{businessName} is closed right now. We will answer when we open.',
    outOfHoursAction: 'queue',
    queuePositionMessage: 'You are number {queuePosition} in line.',
    finalMessage: 'Thanks for chatting with {businessName}. Text us anytime.',
    helpMessage: '{businessName}: reply STOP to opt out, START to opt back in.',
    surveyMessage: 'How did we do? Reply with a score from 1 (poor) to 5 (great).',
    surveyCommentPrompt: 'Thank you! Anything we could do better? (optional)',
    surveyThanksMessage: 'Thanks for your feedback.',
    // On WhatsApp a day after the customer's last message, only a template goes out.
    windowTemplates: {
      final: { contentSid: DEMO_TEMPLATES[2].sid, variables: { 1: '{{businessName}}' } },
    },
  });
  for (const quickReply of DEMO_QUICK_REPLIES) {
    await createQuickReply(db, { ...quickReply, queueId: queue.id });
  }
}

/** The demo numbers, on the Support flow: all on first start, those added since on later ones. */
async function addMissingNumbers(db: Db, accountId: string): Promise<void> {
  const existing = new Set((await listNumbers(db, 'include')).map((number) => number.address));
  const missing = DEMO_NUMBERS.filter((address) => !existing.has(address));
  if (missing.length === 0) return;
  const flow = (await listFlows(db, 'include')).find((f) => f.name === 'Support');
  for (const address of missing) {
    await createNumber(db, { accountId, address, flowId: flow?.id ?? null, name: 'Demo' });
  }
}

/**
 * The demo's hook for numbers an admin adds: the emulator learns the number on the account,
 * pointing at Parley, so that the phone page can text it at once and Parley's check on
 * Twilio finds it.
 */
export function numbersOnEmulator(emulatorUrl: string, publicUrl: string): PrepareNumberOnTwilio {
  return async (number) => {
    try {
      await control(emulatorUrl, '/_emulator/numbers', {
        accountSid: number.accountSid,
        phoneNumber: number.address,
        kind: number.kind,
        smsUrl: `${publicUrl}${WEBHOOK_PATH}`,
      });
    } catch (error) {
      throw new AppError(
        'bad_gateway',
        `the demo's Twilio emulator did not take ${number.address}: ${(error as Error).message}`,
      );
    }
  };
}

async function control(emulatorUrl: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${emulatorUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok)
    throw new Error(`emulator refused ${path}: ${response.status} ${await response.text()}`);
}

import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { requestProblems } from './request-problems.js';

/** What fastify-type-provider-zod reports for a body the schema refuses. */
function refused(schema: z.ZodType, body: unknown) {
  const result = schema.safeParse(body);
  if (result.success) throw new Error('the body passed');
  return requestProblems(
    result.error.issues.map((issue) => {
      const { code, message, path, ...params } = issue;
      return { keyword: code, instancePath: `/${path.join('/')}`, message, params };
    }),
    'body',
  );
}

describe('a refused request in sentences', () => {
  const schema = z
    .object({
      name: z.string().trim().min(1, { error: 'name must not be empty' }),
      botRetries: z.number().int().max(10),
      botTimeoutMs: z.number().int().min(100),
      strategy: z.enum(['longest-idle', 'round-robin']),
      email: z.email(),
      hours: z.array(
        z
          .object({ opensAt: z.string(), closesAt: z.string() })
          .refine((h) => h.opensAt < h.closesAt, {
            error: 'an interval must open before it closes',
          }),
      ),
      queueId: z.uuid(),
    })
    .strict();

  it('names every field at fault, in words, once each', () => {
    const problems = refused(schema, {
      name: ' ',
      botRetries: 11,
      botTimeoutMs: 5,
      strategy: 'random',
      email: 'nope',
      hours: [{ opensAt: '10:00', closesAt: '09:00' }],
      extra: true,
    });
    expect(problems).toEqual([
      { field: 'name', message: 'Name must not be empty.' },
      { field: 'botRetries', message: 'Bot retries must be at most 10.' },
      { field: 'botTimeoutMs', message: 'Bot timeout (ms) must be at least 100.' },
      { field: 'strategy', message: 'Strategy must be one of longest-idle, round-robin.' },
      { field: 'email', message: 'Email must be an email address.' },
      { field: 'hours.0', message: 'Hours, row 1: an interval must open before it closes.' },
      { field: 'queueId', message: 'Queue ID is required.' },
      { field: undefined, message: 'extra is not a field this request takes.' },
    ]);
    for (const { message } of problems) expect(message).not.toMatch(/Too big|expected|Invalid/);
  });
});

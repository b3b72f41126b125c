/**
 * A queue's overflow message as the customer reads it: routing finds who waited too long and
 * gives the queue's name and wait; the flow of the conversation's number gives the business
 * name; the outbox sends it.
 */
import { eq } from 'drizzle-orm';
import { flows, numbers } from '../db/schema.js';
import { enqueueAutomated } from '../outbound/outbox.js';
import type { QueueMessage } from '../routing/index.js';
import { renderTemplate } from './templates.js';

/** routing's QueueMessage: fills `{businessName}`, `{queueName}` and `{waitMinutes}`, then queues it. */
export const queueOverflowMessage: QueueMessage = async (tx, message) => {
  const [flow] = await tx
    .select({ businessName: flows.businessName })
    .from(numbers)
    .innerJoin(flows, eq(flows.id, numbers.flowId))
    .where(eq(numbers.id, message.numberId));
  const { placeholders, ...outbound } = message;
  return enqueueAutomated(tx, {
    ...outbound,
    body: renderTemplate(message.body, { ...placeholders, businessName: flow?.businessName }),
  });
};

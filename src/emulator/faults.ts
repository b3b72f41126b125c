import { TwilioApiError } from './errors.js';

/** REST operations the fault switch can target, named as resource.action. */
export const faultEndpoints = [
  'account.fetch',
  'messages.create',
  'messages.list',
  'messages.fetch',
  'messages.update',
  'messages.delete',
  'media.list',
  'media.fetch',
  'media.delete',
  'numbers.list',
  'numbers.fetch',
  'numbers.update',
  'shortcodes.list',
  'shortcodes.fetch',
  'shortcodes.update',
  'senders.list',
  'senders.fetch',
  'senders.update',
  'services.list',
  'services.create',
  'services.fetch',
  'services.update',
  'services.numbers.list',
  'services.numbers.create',
  'services.numbers.fetch',
  'services.numbers.delete',
  'services.senders.list',
  'services.senders.create',
  'services.senders.fetch',
  'services.senders.delete',
  'content.list',
  'content.create',
  'content.fetch',
  'content.delete',
  'content.approval.fetch',
  'content.approval.create',
  'content.approvals.list',
] as const;

export type FaultEndpoint = (typeof faultEndpoints)[number];
/**
 * `429`, `500`: refused before anything happens. `slow`: answered after delayMs.
 * `create-then-500`, `create-then-drop`: the request is carried out (a message created and
 * sent), then answered 500 or the connection closed without an answer — the ambiguous outcome
 * every client of a non-idempotent API must handle. `create-then-slow`: carried out, then
 * answered after delayMs, so the message's status callbacks reach the client before the
 * answer with its SID.
 */
export const faultModes = [
  '429',
  '500',
  'slow',
  'create-then-500',
  'create-then-drop',
  'create-then-slow',
] as const;
export type FaultMode = (typeof faultModes)[number];

export interface FaultSpec {
  endpoint: FaultEndpoint | '*';
  mode: FaultMode;
  /** Fault only this many requests, then stop. */
  count?: number;
  /** Fault this share of matching requests (deterministically: every 1/ratio-th). */
  ratio?: number;
  delayMs?: number;
}

interface Fault extends FaultSpec {
  id: number;
  seen: number;
  applied: number;
}

export type FaultAction =
  | { kind: 'error'; error: TwilioApiError }
  | { kind: 'delay'; ms: number }
  | { kind: 'after'; afterwards: 'error'; error: TwilioApiError }
  | { kind: 'after'; afterwards: 'drop' }
  | { kind: 'after'; afterwards: 'delay'; ms: number };

export class FaultSwitch {
  private faults: Fault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): number {
    const id = this.nextId++;
    this.faults.push({ ...spec, id, seen: 0, applied: 0 });
    return id;
  }

  clear(): void {
    this.faults = [];
  }

  list(): (FaultSpec & { id: number; applied: number })[] {
    return this.faults.map(({ seen: _seen, ...f }) => f);
  }

  /** Decides whether this request is faulted; consumes one unit of a counted fault. */
  take(endpoint: FaultEndpoint): FaultAction | null {
    for (const fault of this.faults) {
      if (fault.endpoint !== '*' && fault.endpoint !== endpoint) continue;
      fault.seen += 1;
      if (fault.ratio !== undefined) {
        // Deterministic spread: fault whenever the running total of ratio crosses an integer.
        const due =
          Math.floor(fault.seen * fault.ratio) > Math.floor((fault.seen - 1) * fault.ratio);
        if (!due) continue;
      }
      fault.applied += 1;
      if (fault.count !== undefined && fault.applied >= fault.count) {
        this.faults = this.faults.filter((f) => f !== fault);
      }
      return actionFor(fault);
    }
    return null;
  }
}

function actionFor(fault: Fault): FaultAction {
  switch (fault.mode) {
    case '429':
      return { kind: 'error', error: new TwilioApiError(429, 20429, 'Too Many Requests') };
    case '500':
      return { kind: 'error', error: new TwilioApiError(500, 20500, 'Internal Server Error') };
    case 'slow':
      return { kind: 'delay', ms: fault.delayMs ?? 5000 };
    case 'create-then-500':
      return {
        kind: 'after',
        afterwards: 'error',
        error: new TwilioApiError(500, 20500, 'Internal Server Error'),
      };
    case 'create-then-drop':
      return { kind: 'after', afterwards: 'drop' };
    case 'create-then-slow':
      return { kind: 'after', afterwards: 'delay', ms: fault.delayMs ?? 5000 };
  }
}

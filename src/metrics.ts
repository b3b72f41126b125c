/**
 * Parley's Prometheus metrics, in a registry of each app's own: several apps in one process
 * (tests, tools) never share a series. Counters and histograms are moved where things
 * happen, for the cost of a map lookup, with labels of bounded sets only (webhook kinds and
 * refusal reasons, offer outcomes, senders an admin configured, Twilio's error codes).
 * Offer counts come from the transactions that committed them (db/commit-figures.ts), so a
 * rolled-back offer never counts. The gauges read at scrape time, which need the modules
 * above the kernel, are added by metrics.routes.ts.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { committedFigures } from './db/commit-figures.js';
import type { Store } from './db/store.js';
import type { EventType } from './events.js';

export type WebhookKind = 'message' | 'status';

/** Why a webhook was not taken; README, "Metrics", says what each means. */
export type WebhookRefusal =
  | 'malformed'
  | 'bad_signature'
  | 'unknown_number'
  | 'unknown_account'
  | 'unknown_message'
  | 'foreign_message'
  | 'error';

const OFFER_OUTCOMES: [EventType, string][] = [
  ['offer.created', 'created'],
  ['offer.accepted', 'accepted'],
  ['offer.rejected', 'rejected'],
  ['offer.timed-out', 'timed_out'],
  ['offer.canceled', 'canceled'],
];

export class Metrics {
  readonly registry = new Registry();

  readonly webhooksReceived = new Counter({
    name: 'parley_webhooks_received_total',
    help: 'Twilio webhooks answered, by kind (message, status)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly webhooksRefused = new Counter({
    name: 'parley_webhooks_refused_total',
    help: 'Twilio webhooks answered with a 4xx or 5xx, by kind and reason',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });

  readonly webhookDuration = new Histogram({
    name: 'parley_webhook_duration_seconds',
    help: 'From a webhook request to its answer (after its batch committed), by kind',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly offers = new Counter({
    name: 'parley_offers_total',
    help: 'Offers committed, by outcome (created, accepted, rejected, timed_out, canceled)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly offerWait = new Histogram({
    name: 'parley_offer_wait_seconds',
    help: 'From queued to offered (or given to an auto-accepting agent), per conversation',
    buckets: [0.05, 0.25, 1, 5, 15, 30, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  readonly sendDuration = new Histogram({
    name: 'parley_send_duration_seconds',
    help: "From a message handed to Twilio to Twilio's answer, by sender",
    labelNames: ['sender'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [this.registry],
  });

  readonly twilioErrors = new Counter({
    name: 'parley_twilio_errors_total',
    help: "Sends Twilio refused or did not answer, by Twilio's error code (none: no code)",
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  #processMetrics = false;

  /** A send's answer from Twilio: how long it took, and its error code if it failed. */
  recordSend(sender: string, seconds: number, failure?: { code: number | null }): void {
    this.sendDuration.observe({ sender }, seconds);
    if (failure) this.twilioErrors.inc({ code: failure.code === null ? 'none' : failure.code });
  }

  /**
   * Counts the offers of each transaction the store commits, and the queue waits of the
   * conversations it handed to agents. Returns a function that stops counting.
   */
  countCommits(store: Pick<Store, 'onCommit'>): () => void {
    return store.onCommit((tx) => {
      const figures = committedFigures(tx);
      if (!figures) return;
      for (const [type, outcome] of OFFER_OUTCOMES) {
        const count = figures.events.get(type);
        if (count) this.offers.inc({ outcome }, count);
      }
      for (const seconds of figures.queueWaits) this.offerWait.observe(seconds);
    });
  }

  /** Node's own figures (CPU, memory, event-loop lag, GC, handles), once a scraper may ask. */
  collectProcessMetrics(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition: Prometheus's text format and its content type. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

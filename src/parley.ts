import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PrepareNumberOnTwilio } from './admin/admin.routes.js';
import { TwilioClients } from './channels/twilio/clients.js';
import type { Config } from './config.js';
import { ConfigCache } from './db/config-cache.js';
import { vacuumWhereDue } from './db/maintenance.js';
import { openStore, type Store } from './db/store.js';
import type { SmtpListener } from './email/smtp-listener.js';
import { startFlowRunner } from './flows/flow-runner.js';
import { queueOverflowMessage } from './flows/overflow-messages.js';
import type { InboundKicks } from './inbound/receive.js';
import { type Instance, startInstance } from './instances.js';
import { downloadNextMedia } from './media/media-downloads.js';
import { openMediaStore } from './media/media-storage.js';
import { Metrics } from './metrics.js';
import { type MetricsListener, startMetricsListener } from './metrics.routes.js';
import { pacingFor, sentSettlements, startOutboxDispatcher } from './outbound/dispatcher.js';
import { queuedOutbound } from './outbound/outbox.js';
import { SenderWindows } from './outbound/sender-window.js';
import { createRealtimeGateway } from './realtime/gateway.js';
import { startEventSequencer } from './realtime/sequencer.js';
import { startRetentionWorker } from './retention/retention.js';
import { deskRefreshMs } from './routing/desks.js';
import { startRoutingWorker } from './routing/routing-worker.js';
import { loadOrCreateAppSecret, SecretBox } from './secret-box.js';
import { buildServer } from './server.js';
import { startLoopWorker, type Worker } from './worker-loop.js';

export interface RunningParley {
  readonly url: string;
  readonly store: Store;
  readonly server: FastifyInstance;
  readonly secretBox: SecretBox;
  /** The email-to-SMS listener, when SMS_EMAIL_DOMAIN is set. */
  readonly smtp: SmtpListener | undefined;
  /** The /metrics listener of its own, when METRICS_PORT is set. */
  readonly metricsListener: MetricsListener | undefined;
  /** Stops accepting, finishes in-flight requests, stops the workers, then closes the store. */
  close(): Promise<void>;
  /** While close() runs: the parts it still waits for (the HTTP server, a worker by name, …). */
  closingWaitsFor(): string[];
}

/** Opens the store, applies migrations, starts the workers and starts listening. */
export async function startParley(
  config: Config,
  logger: Logger,
  options: { prepareNumberOnTwilio?: PrepareNumberOnTwilio } = {},
): Promise<RunningParley> {
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : config.dataDir,
    onError: (error) => logger.warn({ err: error }, 'database connection lost'),
  });
  const workers: Worker[] = [];
  // Like the HTTP server, stopped before the workers: no new originations while they finish.
  let smtp: SmtpListener | undefined;
  let metricsListener: MetricsListener | undefined;
  // Stopped after the workers: while it is registered, nobody takes over what they hold.
  let instance: Instance | undefined;
  try {
    const secretBox = new SecretBox(config.appSecret ?? loadOrCreateAppSecret(config.dataDir));
    await store.migrate();
    const db = store.db;
    const configCache = new ConfigCache();
    const clients = new TwilioClients(db, secretBox, config.twilioApiUrl, configCache);
    const mediaStore = await openMediaStore(config.mediaStorage, { dataDir: config.dataDir, db });
    if (config.mediaStorage.kind === 'files' && config.mediaStorage.keptForStoredFiles) {
      logger.warn(
        { mediaDir: join(config.dataDir, 'media') },
        'media stay in files under DATA_DIR/media, which already holds some, although DATABASE_URL makes the database the default: other instances cannot read them. To share them, copy them to an S3 bucket as <MEDIA_S3_PREFIX><sha256> and set MEDIA_STORAGE=s3 with MEDIA_S3_BUCKET; to keep them here, set MEDIA_STORAGE=files and this warning goes',
      );
    }
    const metrics = new Metrics();

    instance = await startInstance(db, logger);
    const dispatcher = startOutboxDispatcher(
      {
        instance,
        db,
        clients,
        secretBox,
        publicUrl: config.publicUrl,
        logger,
        retryBaseMs: config.outboxRetryBaseMs,
        windows: new SenderWindows(),
        settlements: sentSettlements(db),
        pacing: pacingFor(store),
        metrics,
      },
      // The embedded store has no other writer: every commit that queues a message wakes the
      // dispatcher, which knows when retries and slots come due, so polling is only a
      // backstop. Polling ten times a second cost an idle Parley ~8% of a core.
      { pollMs: store.kind === 'pglite' ? 1_000 : 100 },
    );
    const media = startLoopWorker({
      name: 'media-downloads',
      intervalMs: 1000,
      logger,
      tick: () =>
        downloadNextMedia({
          db,
          secretBox,
          mediaStore,
          twilioApiUrl: config.twilioApiUrl,
          maxBytes: config.mediaMaxBytes,
        }),
    });
    const flows = startFlowRunner({ db, logger, instanceId: instance.id });
    workers.push(dispatcher, media, flows, startRetentionWorker({ db, mediaStore, logger }));
    if (store.kind === 'pglite') {
      workers.push(
        startLoopWorker({
          name: 'embedded-vacuum',
          // One VACUUM or ANALYZE at a time: together, under load, they held Parley's
          // thread for 1.5 s (seven tables, 80-340 ms each).
          intervalMs: 5_000,
          logger,
          tick: async () => {
            const tables = await vacuumWhereDue(db, 1);
            if (tables.length > 0) logger.debug({ tables }, 'embedded store vacuumed');
            return false;
          },
        }),
      );
    }
    const routing = startRoutingWorker({
      store,
      logger,
      queueMessage: queueOverflowMessage,
      presenceGraceSeconds: config.presenceGraceSeconds,
    });
    workers.push(routing);
    workers.push(startEventSequencer({ store, logger }));
    const realtime = createRealtimeGateway({
      store,
      logger,
      deskRefreshMs: deskRefreshMs(config.presenceGraceSeconds),
    });
    workers.push(realtime);

    const kicks: InboundKicks = {
      flowDue: (conversationId) => flows.advance(conversationId),
      mediaDue: () => media.wake(),
      queued: (queueId) => routing.wake({ queueId }),
    };
    // Only a commit that queued a message wakes the dispatcher; others find it by polling.
    store.onCommit((tx) => {
      if (queuedOutbound(tx)) dispatcher.wake();
    });
    if (config.smsEmail) {
      // Loaded only here: the mail parser weighs ~30 MiB resident that a Parley without
      // email-to-SMS never needs.
      const { startSmtpListener } = await import('./email/smtp-listener.js');
      smtp = await startSmtpListener({
        db,
        logger,
        config: config.smsEmail,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
      });
    }
    const server = await buildServer({
      config,
      store,
      logger,
      secretBox,
      mediaStore,
      clients,
      configCache,
      kicks,
      realtime,
      prepareNumberOnTwilio: options.prepareNumberOnTwilio,
      metrics,
    });
    if (config.metrics?.port !== undefined) {
      metricsListener = await startMetricsListener(
        metrics,
        { ...config.metrics, port: config.metrics.port },
        logger,
      );
    }
    await server.listen({ port: config.port, host: config.host });
    const address = server.server.address();
    const url =
      address && typeof address === 'object'
        ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
        : config.publicUrl;
    logger.info(
      { url, publicUrl: config.publicUrl, store: store.kind, media: mediaStore.kind },
      'Parley is listening',
    );
    let closing: Promise<void> | undefined;
    // What close() still waits for, so that a shutdown that runs out of time can say.
    const waitingFor = new Set<string>();
    const waitFor = async (part: string, stopping: Promise<unknown>): Promise<void> => {
      waitingFor.add(part);
      try {
        await stopping;
      } finally {
        waitingFor.delete(part);
      }
    };
    return {
      url,
      store,
      server,
      secretBox,
      smtp,
      metricsListener,
      close: () => {
        closing ??= (async () => {
          try {
            await Promise.all([
              waitFor('http server', server.close()),
              smtp && waitFor('smtp listener', smtp.stop()),
              metricsListener && waitFor('metrics listener', metricsListener.close()),
            ]);
            await Promise.all(workers.map((worker) => waitFor(worker.name, worker.stop())));
            if (instance) await waitFor('instance registration', instance.stop());
          } finally {
            await waitFor('store', store.close());
          }
        })();
        return closing;
      },
      closingWaitsFor: () => [...waitingFor],
    };
  } catch (error) {
    await metricsListener?.close();
    await smtp?.stop();
    await Promise.all(workers.map((worker) => worker.stop()));
    await instance?.stop();
    await store.close();
    throw error;
  }
}

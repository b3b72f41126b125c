import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, recordAudit } from '../audit/audit-log.js';
import { registerSignedInRoutes, requireRole } from '../auth/guard.js';
import type { Store } from '../db/store.js';
import { AppError } from '../errors.js';
import { POSTGRES_BACKUP_ADVICE, takeSnapshot } from './backup.js';

/**
 * The backup `parley backup` asks the running process for: only the process that owns
 * DATA_DIR can read its database consistently. Admins only (an API token or a session).
 */
export function registerBackupRoutes(
  parent: FastifyInstance,
  deps: { store: Store; dataDir: string },
): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/backup',
      {
        onRequest: requireRole('admin'),
        schema: {
          tags: ['admin'],
          summary:
            'A backup of the embedded store (database and media) as a gzip-compressed tar; not with DATABASE_URL, whose server pg_dump backs up',
          response: {
            200: {
              description: 'The archive: manifest.json, then pglite/ and media/',
              content: {
                'application/gzip': {
                  schema: z.custom<Readable>().meta({ type: 'string', format: 'binary' }),
                },
              },
            },
          },
        },
      },
      async (request, reply) => {
        if (!deps.store.whileQuiet) throw new AppError('conflict', POSTGRES_BACKUP_ADVICE);
        // Recorded first, so that the backup holds its own entry.
        await recordAudit(deps.store.db, { actor: actorOf(request), action: 'backup.created' });
        const snapshot = await takeSnapshot(deps.store, deps.dataDir);
        const archive = snapshot.archive();
        // Finished or abandoned, the staged copy goes.
        reply.raw.once('close', () => {
          archive.destroy();
          snapshot.discard().catch((error: unknown) => {
            request.log.warn({ err: error }, 'could not remove a backup staging directory');
          });
        });
        const name = `parley-backup-${snapshot.manifest.createdAt.replace(/[:.]/g, '-')}.tar.gz`;
        return reply
          .type('application/gzip')
          .header('content-disposition', `attachment; filename="${name}"`)
          .header('cache-control', 'no-store')
          .send(archive);
      },
    );
  });
}

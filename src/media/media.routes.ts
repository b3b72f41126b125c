import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idParams } from '../api-schemas.js';
import { currentUser, registerSignedInRoutes } from '../auth/guard.js';
import { canReadConversation } from '../conversations/access.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { findMedia } from './media.js';
import type { MediaStore } from './media-store.js';

/** Media bytes for signed-in users who may read the conversation the media belongs to. */
export function registerMediaRoutes(
  parent: FastifyInstance,
  deps: { db: Db; mediaStore: MediaStore },
): void {
  registerSignedInRoutes(parent, (group) => {
    const app = group.withTypeProvider<ZodTypeProvider>();
    app.get(
      '/api/media/:id',
      {
        schema: {
          tags: ['media'],
          summary: 'The bytes of a stored picture or file',
          params: idParams,
          response: {
            200: {
              description:
                'The bytes: pictures, audio and video with their content type, inline; anything else as an application/octet-stream attachment',
              content: {
                'application/octet-stream': {
                  schema: z.custom<Readable>().meta({ type: 'string', format: 'binary' }),
                },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const row = await findMedia(deps.db, request.params.id);
        // Media of a conversation the user may not read is reported as absent, not forbidden.
        const readable =
          row?.conversationId &&
          (await canReadConversation(deps.db, currentUser(request), row.conversationId));
        if (!row || !readable) throw new AppError('not_found', 'no such media');
        if (row.status !== 'stored' || !row.sha256) {
          throw new AppError('conflict', `the media is ${row.status}, not stored yet`);
        }
        const bytes = await deps.mediaStore.get(row.sha256);
        if (!bytes) throw new AppError('not_found', 'the media is no longer stored');
        // A customer chooses the content type: only pictures, audio and video are shown inline.
        const inline =
          /^(image|audio|video)\//.test(row.contentType) && row.contentType !== 'image/svg+xml';
        return reply
          .type(inline ? row.contentType : 'application/octet-stream')
          .header('content-disposition', inline ? 'inline' : 'attachment')
          .header('content-security-policy', "default-src 'none'; sandbox")
          .header('cache-control', 'private, max-age=86400, immutable')
          .header('content-length', bytes.size)
          .send(bytes.stream);
      },
    );
  });
}

/**
 * Who may read a conversation, for the routes of one conversation.
 */
import type { FastifyRequest } from 'fastify';
import { currentUser } from '../auth/guard.js';
import type { Db } from '../db/store.js';
import { AppError } from '../errors.js';
import { canReadConversation } from './conversations.js';

/**
 * The preHandler of every route of one conversation (`:id`), run once its params are valid:
 * the one rule of who may read it (canReadConversation). Others' conversations are reported
 * absent, not forbidden, so an agent learns nothing of them.
 */
export function readableConversation(db: Db) {
  return async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    if (!(await canReadConversation(db, currentUser(request), id))) {
      throw new AppError('not_found', 'no such conversation');
    }
  };
}

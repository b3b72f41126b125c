/**
 * Security headers on every response Parley serves: pages, assets, API JSON and errors.
 * Pages may load only what Parley itself serves (scripts, fonts, pictures, its own API and
 * live-event socket) and may not be framed; every other response gets a CSP that allows
 * nothing, so that a JSON or file response opened as a page can run nothing either.
 */
import type { FastifyInstance } from 'fastify';

/**
 * The web app's policy. Styles may be inline because Paste's styling (emotion) writes
 * <style> elements at run time; scripts may not.
 */
function pageContentSecurityPolicy(publicUrl: string): string {
  const { protocol, host } = new URL(publicUrl);
  // 'self' covers the page's own ws: origin in current browsers; the public URL's socket
  // origin is named too, for agents who reach Parley through it.
  const socketOrigin = `${protocol === 'https:' ? 'wss' : 'ws'}://${host}`;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    `connect-src 'self' ${socketOrigin}`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

export function registerSecurityHeaders(app: FastifyInstance, publicUrl: string): void {
  const pagePolicy = pageContentSecurityPolicy(publicUrl);
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    // Desk paths name conversations and media URLs carry tokens: no other site learns them.
    reply.header('referrer-policy', 'no-referrer');
    // Older browsers that ignore frame-ancestors.
    reply.header('x-frame-options', 'DENY');
    // A route with a stricter policy of its own (served media: sandbox) keeps it.
    if (!reply.hasHeader('content-security-policy')) {
      const isPage = String(reply.getHeader('content-type') ?? '').startsWith('text/html');
      reply.header('content-security-policy', isPage ? pagePolicy : NOTHING_POLICY);
    }
  });
}

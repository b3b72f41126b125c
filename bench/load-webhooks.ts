/**
 * The load generator in a process of its own: sends signed inbound webhooks to a running
 * Parley and prints the figures as one JSON line. Used by bench/compare-inbound.ts.
 *   npx tsx bench/load-webhooks.ts <url> <publicUrl> <accountSid> <authToken> <number>
 *   BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 20), BENCH_HANDSETS (default 500)
 */
import { sendSignedWebhooks } from './signed-webhooks.js';

const [url, publicUrl, accountSid, authToken, businessNumber] = process.argv.slice(2);
if (!url || !publicUrl || !accountSid || !authToken || !businessNumber) {
  process.stderr.write(
    'usage: load-webhooks.ts <url> <publicUrl> <accountSid> <authToken> <number>\n',
  );
  process.exit(64);
}
const figures = await sendSignedWebhooks({
  url,
  publicUrl,
  accountSid,
  authToken,
  businessNumber,
  connections: Number(process.env.BENCH_CONNECTIONS ?? 20),
  seconds: Number(process.env.BENCH_SECONDS ?? 10),
  handsets: Number(process.env.BENCH_HANDSETS ?? 500),
});
process.stdout.write(`${JSON.stringify(figures)}\n`);

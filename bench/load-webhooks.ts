/**
 * The load generator in a process of its own: sends signed inbound webhooks to a running
 * server and prints the figures as one JSON line. Used by bench/inbound.ts and
 * bench/compare-inbound.ts.
 *   npx tsx bench/load-webhooks.ts <url> <publicUrl> <accountSid> <authToken> <number>
 *   BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 100), BENCH_HANDSETS (default 500),
 *   BENCH_WORKLOAD (existing | new, default existing), BENCH_RATE (offered req/s; default: as
 *   fast as answered), BENCH_AWAIT_GO=1 (existing: print `opened` once the conversations are
 *   opened and measure after a line on stdin; see awaitOpenedAndPlaced)
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { sendSignedWebhooks } from './signed-webhooks.js';

const [url, publicUrl, accountSid, authToken, businessNumber] = process.argv.slice(2);
if (!url || !publicUrl || !accountSid || !authToken || !businessNumber) {
  process.stderr.write(
    'usage: load-webhooks.ts <url> <publicUrl> <accountSid> <authToken> <number>\n',
  );
  process.exit(64);
}
const workload = process.env.BENCH_WORKLOAD ?? 'existing';
if (workload !== 'existing' && workload !== 'new') {
  process.stderr.write('BENCH_WORKLOAD must be existing or new\n');
  process.exit(64);
}
const figures = await sendSignedWebhooks({
  url,
  publicUrl,
  accountSid,
  authToken,
  businessNumber,
  connections: Number(process.env.BENCH_CONNECTIONS ?? 100),
  seconds: Number(process.env.BENCH_SECONDS ?? 10),
  handsets: Number(process.env.BENCH_HANDSETS ?? 500),
  workload,
  rate: process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined,
  areaCode: process.env.BENCH_AREA_CODE,
  opened:
    process.env.BENCH_AWAIT_GO === '1'
      ? async () => {
          const lines = createInterface({ input: process.stdin });
          process.stdout.write('opened\n');
          const go = await Promise.race([
            once(lines, 'line').then(() => true),
            once(lines, 'close').then(() => false),
          ]);
          lines.close();
          if (!go) throw new Error('stdin closed before a line said to measure');
        }
      : undefined,
});
process.stdout.write(`${JSON.stringify(figures)}\n`);

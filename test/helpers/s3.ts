import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { S3MediaConfig } from '../../src/config.js';

export interface TestS3 {
  /** What MEDIA_S3_* would configure, for a store built directly. */
  config: S3MediaConfig;
  /** The same as environment variables, for a Parley started from its config. */
  env: Record<string, string>;
  /** Every request as `METHOD /path?query`, in order (only with `withoutListBucket`). */
  requests: string[];
  close(): Promise<void>;
}

/**
 * s3rver on a free port with its own directory and one bucket: S3 as MinIO would serve it.
 * `withoutListBucket` puts a proxy in front that answers 403 AccessDenied where s3rver
 * answers a read with 404, as AWS does for a key pair without s3:ListBucket, and records
 * every request.
 */
export async function startTestS3(
  bucket = 'parley-media',
  options: { withoutListBucket?: boolean } = {},
): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'parley-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port: s3Port } = await server.run();
  const requests: string[] = [];
  const proxy = options.withoutListBucket ? await denyingMissingKeys(s3Port, requests) : undefined;
  const endpoint = `http://127.0.0.1:${proxy?.port ?? s3Port}`;
  // s3rver checks signatures made with its fixed key pair.
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    config: {
      bucket,
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      prefix: 'parley/',
      credentials,
    },
    env: {
      MEDIA_STORAGE: 's3',
      MEDIA_S3_BUCKET: bucket,
      MEDIA_S3_ENDPOINT: endpoint,
      MEDIA_S3_FORCE_PATH_STYLE: 'true',
      MEDIA_S3_PREFIX: 'parley/',
      MEDIA_S3_ACCESS_KEY_ID: credentials.accessKeyId,
      MEDIA_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    requests,
    close: async () => {
      await proxy?.close();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A proxy to s3rver that turns a read's 404 into AWS's 403 for a caller without ListBucket. */
async function denyingMissingKeys(
  upstreamPort: number,
  requests: string[],
): Promise<{ port: number; close(): Promise<void> }> {
  const denied =
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
  const proxy = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    // The Host header goes through unchanged: the request's signature covers it.
    const upstream = request(
      {
        host: '127.0.0.1',
        port: upstreamPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        if (answer.statusCode === 404 && (req.method === 'GET' || req.method === 'HEAD')) {
          answer.resume();
          const body = req.method === 'HEAD' ? '' : denied;
          res.writeHead(403, {
            'content-type': 'application/xml',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}

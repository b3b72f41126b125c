import { join } from 'node:path';
import type { MediaStorageConfig } from '../config.js';
import type { Db } from '../db/store.js';
import { DatabaseMediaStore } from './database-media-store.js';
import { FileMediaStore } from './file-media-store.js';
import type { MediaStore } from './media-store.js';

/**
 * The media store MEDIA_STORAGE (or its default) chose; see config.ts mediaStorageOf. The AWS
 * SDK is loaded only for S3: ~20 MiB resident that the other stores never need.
 */
export async function openMediaStore(
  config: MediaStorageConfig,
  deps: { dataDir: string; db: Db },
): Promise<MediaStore> {
  switch (config.kind) {
    case 'files':
      return new FileMediaStore(join(deps.dataDir, 'media'));
    case 's3': {
      const { S3MediaStore } = await import('./s3-media-store.js');
      return new S3MediaStore(config);
    }
    case 'database':
      return new DatabaseMediaStore(deps.db);
  }
}

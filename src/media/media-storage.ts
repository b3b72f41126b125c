import { join } from 'node:path';
import type { MediaStorageConfig } from '../config.js';
import type { Db } from '../db/store.js';
import { DatabaseMediaStore } from './database-media-store.js';
import { FileMediaStore } from './file-media-store.js';
import type { MediaStore } from './media-store.js';
import { S3MediaStore } from './s3-media-store.js';

/** The media store MEDIA_STORAGE (or its default) chose; see config.ts mediaStorageOf. */
export function openMediaStore(
  config: MediaStorageConfig,
  deps: { dataDir: string; db: Db },
): MediaStore {
  switch (config.kind) {
    case 'files':
      return new FileMediaStore(join(deps.dataDir, 'media'));
    case 's3':
      return new S3MediaStore(config);
    case 'database':
      return new DatabaseMediaStore(deps.db);
  }
}

/**
 * The web app's API types, generated from the server's OpenAPI document so that the two
 * cannot drift: `npm run api:types` rewrites web/src/api-types.ts, and
 * test/api-types.test.ts fails when the file is not what the server documents.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';
import { buildTestApp } from '../test/helpers/app.js';

export const API_TYPES_FILE = fileURLToPath(new URL('../web/src/api-types.ts', import.meta.url));

/** The TypeScript that describes the API of a server on an empty store. */
export async function generateApiTypes(): Promise<string> {
  const { app, close } = await buildTestApp();
  try {
    const document = (await app.inject('/openapi.json')).json() as OpenAPI3;
    // The URL of whoever generated the file is nobody's business.
    delete document.servers;
    const ast = await openapiTS(document);
    return `${COMMENT_HEADER}${astToString(ast)}`;
  } finally {
    await close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await writeFile(API_TYPES_FILE, await generateApiTypes());
  console.log(`wrote ${API_TYPES_FILE}`);
}

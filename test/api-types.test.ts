import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { API_TYPES_FILE, generateApiTypes } from '../scripts/api-types.js';

describe("the web app's API types", () => {
  it('are what the server documents (else: npm run api:types)', async () => {
    const committed = await readFile(API_TYPES_FILE, 'utf8');
    expect(committed === (await generateApiTypes()), 'run npm run api:types and commit').toBe(true);
  });
});

import { afterAll } from 'vitest';
import { killSpawned } from './helpers/processes.js';

afterAll(killSpawned);

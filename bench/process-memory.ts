import { readFileSync } from 'node:fs';

/** A process's resident memory now and at its peak, in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))![1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/**
 * Reads Prometheus's text exposition format (version 0.0.4), as far as Parley writes it:
 * `name{label="value",…} number` lines, `#` comments. prom-client has no parser.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A scrape: its samples, and each metric's declared type (counter, gauge, histogram, …). */
export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const declared = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (declared) types.set(declared[1]!, declared[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText, value] = match;
    const labels: Record<string, string> = {};
    for (const [, key, quoted] of (labelText ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = quoted!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: name!, labels, value: Number(value) });
  }
  return { samples, types };
}

/** The samples' total for a name, over the series whose labels include `labels`. */
export function total(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): number {
  return exposition.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/**
 * The type the scrape declares for a metric; undefined when it is not exposed at all. A
 * labelled counter nothing has moved yet is declared without a sample.
 */
export function typeOf(exposition: Exposition, name: string): string | undefined {
  return exposition.types.get(name);
}

import { useCallback, useEffect, useState } from 'react';
import { api } from '../api';

export interface Loaded<T> {
  data: T | undefined;
  /** The failure of the last load, if it failed. */
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** GET a path and keep the answer; `reload()` after a change. */
export function useApi<T>(path: string): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: generation only triggers a reload
  useEffect(() => {
    let current = true;
    setLoading(true);
    api<T>(path)
      .then((answer) => {
        if (!current) return;
        setData(answer);
        setError(undefined);
      })
      .catch((failure: unknown) => current && setError(failure))
      .finally(() => current && setLoading(false));
    // A late answer for a path we left must not overwrite the new one.
    return () => {
      current = false;
    };
  }, [path, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload };
}

/** id → name, for showing references (a number's flow, a queue's overflow) by name. */
export function namesById(rows: { id: string; name: string }[] | undefined): Map<string, string> {
  return new Map((rows ?? []).map((row) => [row.id, row.name]));
}

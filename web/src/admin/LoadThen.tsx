import type { ReactNode } from 'react';
import { LoadState } from '../ui/LoadState';
import { useResource } from '../useResource';

/**
 * Loads one row in full before its form opens (a flow's hours, a queue's members are not in
 * the lists), so that the form starts from what the server has.
 */
export function LoadThen<T>({
  path,
  what,
  children,
}: {
  path: string;
  /** "the flow", for the spinner and the error (see LoadState). */
  what: string;
  children: (data: T) => ReactNode;
}) {
  const { data, error } = useResource<T>(path);
  if (data === null) return <LoadState what={what} error={error} />;
  return children(data);
}

import { Spinner } from '@twilio-paste/core/spinner';
import type { ReactNode } from 'react';
import { useResource } from '../useResource';
import { NoticeCallout } from './NoticeCallout';

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
  /** "the flow", for the spinner and the error. */
  what: string;
  children: (data: T) => ReactNode;
}) {
  const { data, error } = useResource<T>(path);
  if (error) {
    return (
      <NoticeCallout variant="error">
        Could not load {what}: {error}
      </NoticeCallout>
    );
  }
  if (data === null) return <Spinner decorative={false} title={`Loading ${what}`} />;
  return children(data);
}

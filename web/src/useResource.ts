/**
 * The web app's one way to load data and keep it: loaded when the view mounts and again on
 * `refresh()` (after an action of the page). Live data (`liveWhen`) is also loaded again
 * when a relevant live event arrives or the live stream reconnects (events may have been
 * missed while it was down). Refreshes are throttled so that a burst of events (a queue
 * draining, a busy conversation) costs one request per `throttleMs`, not one per event.
 * No polling.
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api, errorText } from './api';
import type { LiveEvent } from './live';
import { useSession } from './session';

export interface Resource<T> {
  /** Null until the first answer, and again after what to load changed. */
  data: T | null;
  /** Date.now() when `data` arrived: the moment its durations were true. */
  loadedAt: number | null;
  /** The failure of the last load, if it failed (any data shown is from before it). */
  error: string | null;
  /** Asks for fresh data (after an action of this page), within the same throttle. */
  refresh: () => void;
}

export interface ResourceOptions {
  /** Live events after which the data is loaded again; without it only `refresh()` does. */
  liveWhen?: (event: LiveEvent) => boolean;
  /** At most one load per this many ms; by default 300 for live data, 0 otherwise. */
  throttleMs?: number;
}

/**
 * `source` is a path to GET, or a function that loads (several requests, say), which must be
 * stable (useCallback) and changes when what to load changes (a filter). A new source starts
 * the resource again from nothing; refreshes replace data in place. `liveWhen` may be a new
 * function on every render.
 */
export function useResource<T>(
  source: string | (() => Promise<T>),
  { liveWhen, throttleMs = liveWhen ? 300 : 0 }: ResourceOptions = {},
): Resource<T> {
  const { live } = useSession();
  const load = useMemo(
    () => (typeof source === 'string' ? () => api<T>(source) : source),
    [source],
  );
  const [state, setState] = useState<Omit<Resource<T>, 'refresh'>>({
    data: null,
    loadedAt: null,
    error: null,
  });
  // Requests may overlap and answer out of order; only answers newer than the one shown count.
  const issued = useRef(0);
  const applied = useRef(0);

  const fetchNow = useCallback(() => {
    const seq = ++issued.current;
    load().then(
      (data) => {
        if (seq <= applied.current) return;
        applied.current = seq;
        setState({ data, loadedAt: Date.now(), error: null });
      },
      (failure: unknown) => {
        if (seq <= applied.current) return;
        applied.current = seq;
        setState((s) => ({ ...s, error: errorText(failure) }));
      },
    );
  }, [load]);

  // The timer calls the latest fetchNow, and events the latest predicate, without
  // resubscribing to the stream on every render.
  const latest = useRef({ fetchNow, liveWhen });
  useLayoutEffect(() => {
    latest.current = { fetchNow, liveWhen };
  });

  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const schedule = useCallback(() => {
    if (timer.current !== null) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      latest.current.fetchNow();
    }, throttleMs);
  }, [throttleMs]);
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
      timer.current = null;
    },
    [],
  );

  // A new source asks for other data (another filter): what is shown, and answers still on
  // their way, belong to the old one and must not appear under the new one.
  useEffect(() => {
    applied.current = issued.current;
    setState({ data: null, loadedAt: null, error: null });
    fetchNow();
  }, [fetchNow]);

  const isLive = liveWhen !== undefined;
  useEffect(() => {
    if (!isLive) return;
    const offEvent = live.subscribe((event) => {
      if (latest.current.liveWhen?.(event)) schedule();
    });
    const offStatus = live.onStatus((connected) => {
      if (connected) schedule();
    });
    return () => {
      offEvent();
      offStatus();
    };
  }, [live, schedule, isLive]);

  return { ...state, refresh: schedule };
}

/** Whether the live stream is up: null until it says so either way (it may be up already). */
export function useLiveConnected(): boolean | null {
  const { live } = useSession();
  const [connected, setConnected] = useState<boolean | null>(null);
  useEffect(() => live.onStatus(setConnected), [live]);
  return connected;
}

/**
 * Runs `onReturn` each time the live stream is back after it dropped (not when it first
 * connects): what failed while Parley could not be reached is stale, and its error box goes.
 */
export function useLiveReturn(onReturn: () => void): void {
  const { live } = useSession();
  const latest = useRef(onReturn);
  useLayoutEffect(() => {
    latest.current = onReturn;
  });
  useEffect(() => {
    let dropped = false;
    return live.onStatus((connected) => {
      if (!connected) dropped = true;
      else if (dropped) {
        dropped = false;
        latest.current();
      }
    });
  }, [live]);
}

/** No answer from Parley (status 0), or its proxy's that Parley is down or slow. */
function unreachable(failure: unknown): boolean {
  return (
    !(failure instanceof ApiError) ||
    failure.status === 0 ||
    [502, 503, 504].includes(failure.status)
  );
}

/**
 * A form's error box. `fail` shows a failure: one that never reached Parley goes by itself when the live stream is back, since it is stale then and the
 * agent's text is still there to send; a refusal (an opted-out customer, a bad attachment)
 * stays until `show` replaces it or the next attempt clears it.
 */
export function useErrorBox(): {
  error: string | null;
  show: (text: string | null) => void;
  fail: (failure: unknown) => void;
} {
  const [box, setBox] = useState<{ text: string; unreachable: boolean } | null>(null);
  useLiveReturn(() => setBox((current) => (current?.unreachable ? null : current)));
  return {
    error: box?.text ?? null,
    show: useCallback((text: string | null) => {
      setBox(text === null ? null : { text, unreachable: false });
    }, []),
    fail: useCallback((failure: unknown) => {
      setBox({ text: errorText(failure), unreachable: unreachable(failure) });
    }, []),
  };
}

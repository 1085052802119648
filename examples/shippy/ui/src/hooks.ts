/**
 * The two ways a page talks to the gateway: loading what it shows, and
 * submitting a form. Both turn every failure into a message for the page, so
 * nothing fails silently.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from './api.ts';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  readonly loading: boolean;
  readonly reload: () => Promise<void>;
}

/** Runs `load` on mount and whenever `reload` is called; keeps the last data shown while reloading. */
export function useLoad<T>(load: () => Promise<T>): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const mounted = useRef(true);
  const reload = useCallback(async () => {
    setLoading(true);
    try {
      const value = await load();
      if (!mounted.current) return;
      setData(value);
      setError(undefined);
    } catch (failure) {
      if (mounted.current) setError(describeError(failure));
    } finally {
      if (mounted.current) setLoading(false);
    }
  }, [load]);
  useEffect(() => {
    mounted.current = true;
    void reload();
    return () => {
      mounted.current = false;
    };
  }, [reload]);
  return { data, error, loading, reload };
}

export interface Submission {
  readonly busy: boolean;
  readonly error: string | undefined;
  readonly done: string | undefined;
  /** Runs `action`; its answer becomes the success message, a failure the error message. */
  readonly run: (action: () => Promise<string>) => Promise<void>;
}

export function useSubmit(): Submission {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const run = useCallback(async (action: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setDone(await action());
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, done, run };
}

/**
 * The ways a page talks to the gateway: loading what it shows (whole, or a page at
 * a time) and submitting a form. Each turns every failure into a message for the
 * page, so nothing fails silently, and puts keyboard focus somewhere sensible once
 * it is done, never on <body>.
 */
import { type ReactNode, type RefObject, useCallback, useEffect, useRef, useState } from 'react';
import { flushSync } from 'react-dom';
import { describeError } from './api.ts';
import { checkFields, type FieldErrors, type FieldSpec, serverFieldErrors } from './form.ts';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  readonly loading: boolean;
  /** Loads again; resolves true when it succeeded. */
  readonly reload: () => Promise<boolean>;
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
      if (!mounted.current) return false;
      setData(value);
      setError(undefined);
      return true;
    } catch (failure) {
      if (mounted.current) setError(describeError(failure));
      return false;
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

export interface Page<T> {
  readonly items: readonly T[];
  /** Empty on the last page. */
  readonly next: string;
}

export interface PagedList<T> extends Loaded<Page<T>> {
  /** Appends the next page; resolves to the first item it added, if any. */
  readonly loadMore: () => Promise<T | undefined>;
  readonly loadingMore: boolean;
  readonly moreError: string | undefined;
}

/**
 * A list read a page at a time (`page_token` → `next_page_token`): `reload` starts
 * again from the first page, `loadMore` appends the next one. A service that sends
 * no token (an older one) simply has one page.
 */
export function usePagedList<T>(loadPage: (token: string) => Promise<Page<T>>): PagedList<T> {
  const first = useLoad(useCallback(() => loadPage(''), [loadPage]));
  // Pages after the first, dropped when the first is loaded again (`base` is then stale).
  const [later, setLater] = useState<{ base: Page<T>; items: readonly T[]; next: string }>();
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<string>();
  const base = first.data;
  const appended = base && later?.base === base ? later : undefined;
  const data = base && appended ? { items: [...base.items, ...appended.items], next: appended.next } : base;
  const loadMore = async () => {
    const token = data?.next;
    if (!base || !token || loadingMore) return undefined;
    setLoadingMore(true);
    setMoreError(undefined);
    try {
      const page = await loadPage(token);
      flushSync(() =>
        setLater({ base, items: [...(appended?.items ?? []), ...page.items], next: page.next }),
      );
      return page.items[0];
    } catch (failure) {
      setMoreError(describeError(failure));
      return undefined;
    } finally {
      setLoadingMore(false);
    }
  };
  return { ...first, data, loadMore, loadingMore, moreError };
}

export interface Form {
  readonly busy: boolean;
  /** Field name → message, shown at the field and listed in the summary. */
  readonly errors: FieldErrors;
  /** A failure that is about no one field (a stopped service, no ship with room). */
  readonly failure: ReactNode;
  readonly done: string | undefined;
  /** The error summary: focused when a submission fails, so it is read out and in view. */
  readonly summary: RefObject<HTMLDivElement | null>;
  /** What ends the form (summary, notice, submit button): scrolled into view together. */
  readonly end: RefObject<HTMLDivElement | null>;
  /**
   * Checks `values` against `specs`, then runs `action` (whose answer is the success
   * message) and `after` (where focus goes next). A refusal naming a field goes to
   * that field; `explain` may turn any other failure into something richer than text.
   */
  readonly submit: (options: {
    readonly specs: readonly FieldSpec[];
    readonly values: Readonly<Record<string, string>>;
    readonly action: () => Promise<string>;
    readonly after?: () => void;
    readonly explain?: (error: unknown, message: string) => ReactNode;
    /** Problems of the whole form the fields alone do not show (too many containers). */
    readonly formProblem?: string;
    /** The field a refusal's detail names where it is not one of `specs` by name (`containers[4].origin`). */
    readonly locate?: (detail: string) => string | undefined;
  }) => void;
}

export function useForm(): Form {
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [failure, setFailure] = useState<ReactNode>();
  const [done, setDone] = useState<string>();
  const summary = useRef<HTMLDivElement>(null);
  const end = useRef<HTMLDivElement>(null);
  const running = useRef(false);

  const showProblem = useCallback((fields: FieldErrors, message: ReactNode) => {
    flushSync(() => {
      setErrors(fields);
      setFailure(message);
      setBusy(false);
    });
    // Focus without the browser's scroll, then bring the summary and the button into view together.
    summary.current?.focus({ preventScroll: true });
    end.current?.scrollIntoView({ block: 'nearest' });
  }, []);

  const submit: Form['submit'] = useCallback(
    ({ specs, values, action, after, explain, formProblem, locate }) => {
      // The button is never disabled (a disabled button drops focus to <body>): a second press waits.
      if (running.current) return;
      setDone(undefined);
      const fields = checkFields(specs, values);
      if (Object.keys(fields).length > 0 || formProblem) {
        showProblem(fields, formProblem);
        return;
      }
      running.current = true;
      setBusy(true);
      void (async () => {
        try {
          const message = await action();
          flushSync(() => {
            setErrors({});
            setFailure(undefined);
            setDone(message);
            setBusy(false);
          });
          after?.();
        } catch (error) {
          const onField = serverFieldErrors(error, specs, locate);
          const message = describeError(error);
          if (Object.keys(onField).length > 0) showProblem(onField, undefined);
          else showProblem({}, explain ? explain(error, message) : message);
        } finally {
          running.current = false;
        }
      })();
    },
    [showProblem],
  );

  return { busy, errors, failure, done, summary, end, submit };
}

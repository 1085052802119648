/** Small building blocks every page uses: a labelled field and the two kinds of message. */
import { type InputHTMLAttributes, type ReactNode, useId } from 'react';

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  readonly label: string;
  readonly hint?: string;
}

/** An input with a visible label (its accessible name) and an optional hint tied to it. */
export function Field({ label, hint, ...input }: FieldProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

/** What went wrong, announced by screen readers as it appears. */
export function ErrorMessage({ children }: { readonly children: ReactNode }) {
  if (!children) return null;
  return (
    <p role="alert" className="message error">
      {children}
    </p>
  );
}

/** A list that could not be loaded: why, and a way to ask again. */
export function LoadError({
  error,
  retry,
}: {
  readonly error: string | undefined;
  readonly retry: () => void;
}) {
  if (!error) return null;
  return (
    <>
      <ErrorMessage>{error}</ErrorMessage>
      <button type="button" className="secondary" onClick={retry}>
        Try again
      </button>
    </>
  );
}

/** A success or information note, announced politely. */
export function Notice({ children }: { readonly children: ReactNode }) {
  if (!children) return null;
  return (
    <p role="status" className="message notice">
      {children}
    </p>
  );
}

export function Section({ title, children }: { readonly title: string; readonly children: ReactNode }) {
  const id = useId();
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

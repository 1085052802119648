/** Building blocks every page uses: labelled fields, the error summary, messages and sections. */
import { type InputHTMLAttributes, type ReactNode, type Ref, useId } from 'react';
import type { FieldSpec } from './form.ts';
import type { Form } from './hooks.ts';

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  readonly id: string;
  readonly label: string;
  readonly hint?: string;
  readonly error?: string;
  readonly ref?: Ref<HTMLInputElement>;
}

/**
 * An input with a visible label (its accessible name), an optional hint and, when
 * it is wrong, the reason: `aria-invalid` and described by the message, which is
 * shown above the input so it stays next to it on a phone's screen.
 */
export function Field({ id, label, hint, error, ...input }: FieldProps) {
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ');
  return (
    <div className={error ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {hint && (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-error`} className="field-error">
          {error}
        </small>
      )}
      <input
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        {...input}
      />
    </div>
  );
}

/** Props for a Field of `spec` in `form`: its id, name and current error. */
export function fieldProps(form: Form, spec: FieldSpec) {
  return { id: spec.id, name: spec.name, error: form.errors[spec.name] };
}

/**
 * The form's last failure: what went wrong that is about no one field, and each
 * field's problem as a link that moves focus to it. Focusable, so a failed submit
 * can move focus here (announced, and in view next to the button).
 */
function ErrorSummary({ form, specs }: { readonly form: Form; readonly specs: readonly FieldSpec[] }) {
  const fields = specs.filter((spec) => form.errors[spec.name]);
  if (!form.failure && fields.length === 0) return null;
  return (
    <div ref={form.summary} tabIndex={-1} role="alert" className="message error summary">
      {form.failure && <p>{form.failure}</p>}
      {fields.length > 0 && (
        <>
          <p>
            {fields.length === 1
              ? 'Fix this to continue:'
              : `Fix these ${fields.length} problems to continue:`}
          </p>
          <ul>
            {fields.map((spec) => (
              <li key={spec.name}>
                <a
                  href={`#${spec.id}`}
                  onClick={(event) => {
                    event.preventDefault();
                    document.getElementById(spec.id)?.focus();
                  }}
                >
                  {form.errors[spec.name]}
                </a>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

/** The end of a form: its error summary, its success note and its submit button, kept together. */
export function FormEnd({
  form,
  specs,
  label,
  busyLabel,
}: {
  readonly form: Form;
  readonly specs: readonly FieldSpec[];
  readonly label: string;
  readonly busyLabel: string;
}) {
  return (
    <div ref={form.end} className="form-end">
      <ErrorSummary form={form} specs={specs} />
      <Notice>{form.done}</Notice>
      <button type="submit" aria-disabled={form.busy || undefined}>
        {form.busy ? busyLabel : label}
      </button>
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

/**
 * A list that could not be loaded: why, and a way to ask again. The button goes
 * away once the list is back, so `retry` is told to put focus on what replaced it.
 */
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

/** Read out without being seen: what changed where nothing visible says so (a removed row). */
export function Announcement({ children }: { readonly children: ReactNode }) {
  return (
    <p role="status" className="visually-hidden">
      {children}
    </p>
  );
}

/** The page's title; focusable so a page change can move focus to it and a screen reader reads it. */
export function PageHeading({ children }: { readonly children: ReactNode }) {
  return <h1 tabIndex={-1}>{children}</h1>;
}

/** A card named by its heading; `headingRef` lets a page move focus to the heading (after Try again). */
export function Section({
  title,
  children,
  headingRef,
}: {
  readonly title: string;
  readonly children: ReactNode;
  readonly headingRef?: Ref<HTMLHeadingElement>;
}) {
  const id = useId();
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id} ref={headingRef} tabIndex={headingRef ? -1 : undefined}>
        {title}
      </h2>
      {children}
    </section>
  );
}

import { type FormEvent, useCallback, useRef, useState } from 'react';
import { type Consignment, GatewayError } from '../api.ts';
import type { Call } from '../app.tsx';
import { ErrorMessage, Field, LoadError, Notice, Section } from '../components.tsx';
import { formatNumber, maxInt32 } from '../format.ts';
import { useLoad, useSubmit } from '../hooks.ts';
import type { Session } from '../session.ts';

interface Row {
  /** Stable React key: rows are removed from the middle. */
  readonly key: number;
  readonly customer_id: string;
  readonly origin: string;
}

export function ConsignmentsPage({ call, session }: { readonly call: Call; readonly session: Session }) {
  const consignments = useLoad(
    useCallback(
      async () =>
        (await call<{ consignments?: Consignment[] }>('consignment', 'ConsignmentService.Get', {}))
          .consignments ?? [],
      [call],
    ),
  );
  const submit = useSubmit();
  const nextKey = useRef(1);
  const newRow = (): Row => ({ key: nextKey.current++, customer_id: '', origin: '' });
  const [rows, setRows] = useState<Row[]>(() => [newRow()]);

  const edit = (key: number, change: Partial<Row>) =>
    setRows((current) => current.map((row) => (row.key === key ? { ...row, ...change } : row)));

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const consignment = {
      description: String(form.get('description')),
      weight: Number(form.get('weight')),
      containers: rows.map(({ customer_id, origin }) => ({ customer_id, origin, user_id: session.userId })),
    };
    void submit.run(async () => {
      try {
        await call('consignment', 'ConsignmentService.Create', consignment);
      } catch (error) {
        // FailedPrecondition: no vessel fits. Say what the user can do about it.
        if (error instanceof GatewayError && error.status === 412) {
          throw new GatewayError(
            412,
            error.service,
            `${error.message}. Add a vessel that can on the Vessels page`,
          );
        }
        throw error;
      }
      formElement.reset();
      setRows([newRow()]);
      await consignments.reload();
      return `Consignment “${consignment.description}” created.`;
    });
  };

  return (
    <>
      <h1>Consignments</h1>
      <div className="columns">
        <Section title="Your consignments">
          <LoadError error={consignments.error} retry={() => void consignments.reload()} />
          {consignments.data?.length === 0 && <p>No consignments yet.</p>}
          {consignments.data === undefined && consignments.loading && <p>Loading consignments…</p>}
          {consignments.data && consignments.data.length > 0 && (
            <ul className="items" aria-label="Your consignments">
              {consignments.data.map((consignment) => (
                <li key={consignment.id}>
                  <strong>{consignment.description}</strong>
                  <div className="meta">
                    Vessel: <span className="vessel">{consignment.vessel_name || consignment.vessel_id}</span>
                  </div>
                  <div className="meta">
                    Weight {formatNumber(consignment.weight)} · {plural(consignment.containers?.length ?? 0)}
                  </div>
                  <ul className="containers" aria-label={`Containers of ${consignment.description}`}>
                    {consignment.containers?.map((container, index) => (
                      // Containers have no id of their own until stored; their order is stable.
                      // biome-ignore lint/suspicious/noArrayIndexKey: see above
                      <li key={index}>
                        {container.customer_id} from {container.origin}
                      </li>
                    ))}
                  </ul>
                </li>
              ))}
            </ul>
          )}
        </Section>
        <Section title="New consignment">
          <form onSubmit={onSubmit}>
            <Field label="Description" name="description" required maxLength={200} />
            <Field
              label="Weight"
              name="weight"
              type="number"
              inputMode="numeric"
              min={1}
              max={maxInt32}
              required
              hint="Total weight of all containers"
            />
            {rows.map((row, index) => (
              <fieldset key={row.key} className="container-row">
                <legend>Container {index + 1}</legend>
                <Field
                  label="Customer ID"
                  value={row.customer_id}
                  onChange={(event) => edit(row.key, { customer_id: event.target.value })}
                  required
                  maxLength={200}
                />
                <Field
                  label="Origin"
                  value={row.origin}
                  onChange={(event) => edit(row.key, { origin: event.target.value })}
                  required
                  maxLength={200}
                />
                {rows.length > 1 && (
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => setRows((current) => current.filter(({ key }) => key !== row.key))}
                  >
                    Remove container {index + 1}
                  </button>
                )}
              </fieldset>
            ))}
            <button
              type="button"
              className="secondary"
              onClick={() => setRows((current) => [...current, newRow()])}
            >
              Add container
            </button>
            <ErrorMessage>{submit.error}</ErrorMessage>
            <Notice>{submit.done}</Notice>
            <button type="submit" disabled={submit.busy}>
              {submit.busy ? 'Creating consignment…' : 'Create consignment'}
            </button>
          </form>
        </Section>
      </div>
    </>
  );
}

function plural(count: number): string {
  return count === 1 ? '1 container' : `${count} containers`;
}

import { type FormEvent, useCallback } from 'react';
import type { Vessel } from '../api.ts';
import type { Call } from '../app.tsx';
import { ErrorMessage, Field, LoadError, Notice, Section } from '../components.tsx';
import { formatNumber, maxInt32 } from '../format.ts';
import { useLoad, useSubmit } from '../hooks.ts';
import type { Session } from '../session.ts';

export function VesselsPage({ call, session }: { readonly call: Call; readonly session: Session }) {
  const vessels = useLoad(
    useCallback(
      async () => (await call<{ vessels?: Vessel[] }>('vessel', 'VesselService.List', {})).vessels ?? [],
      [call],
    ),
  );
  const submit = useSubmit();

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const vessel = {
      name: String(form.get('name')),
      capacity: Number(form.get('capacity')),
      max_weight: Number(form.get('max_weight')),
      available: form.get('available') === 'on',
      owner_id: session.userId,
    };
    void submit.run(async () => {
      await call('vessel', 'VesselService.Create', vessel);
      formElement.reset();
      await vessels.reload();
      return `Vessel “${vessel.name}” created.`;
    });
  };

  return (
    <>
      <h1>Vessels</h1>
      <div className="columns">
        <Section title="Fleet">
          <LoadError error={vessels.error} retry={() => void vessels.reload()} />
          {vessels.data?.length === 0 && <p>No vessels yet.</p>}
          {vessels.data === undefined && vessels.loading && <p>Loading vessels…</p>}
          {vessels.data && vessels.data.length > 0 && (
            <ul className="items" aria-label="Vessels">
              {vessels.data.map((vessel) => (
                <li key={vessel.id}>
                  <strong>{vessel.name}</strong>
                  <span className={vessel.available ? 'badge ok' : 'badge'}>
                    {vessel.available ? 'Available' : 'Not available'}
                  </span>
                  <div className="meta">
                    Capacity {formatNumber(vessel.capacity)} containers · max weight{' '}
                    {formatNumber(vessel.max_weight)}
                  </div>
                </li>
              ))}
            </ul>
          )}
        </Section>
        <Section title="Add a vessel">
          <form onSubmit={onSubmit}>
            <Field label="Vessel name" name="name" required maxLength={200} />
            <Field
              label="Capacity"
              name="capacity"
              type="number"
              inputMode="numeric"
              min={1}
              max={maxInt32}
              required
              hint="How many containers it carries"
            />
            <Field
              label="Max weight"
              name="max_weight"
              type="number"
              inputMode="numeric"
              min={1}
              max={maxInt32}
              required
              hint="Heaviest total load it carries"
            />
            <div className="check">
              <input id="vessel-available" name="available" type="checkbox" defaultChecked />
              <label htmlFor="vessel-available">Available for new consignments</label>
            </div>
            <ErrorMessage>{submit.error}</ErrorMessage>
            <Notice>{submit.done}</Notice>
            <button type="submit" disabled={submit.busy}>
              {submit.busy ? 'Adding vessel…' : 'Add vessel'}
            </button>
          </form>
        </Section>
      </div>
    </>
  );
}

import { type FormEvent, useCallback, useRef } from 'react';
import type { PageRequest, Vessel } from '../api.ts';
import type { Call } from '../app.tsx';
import { Field, FormEnd, fieldProps, LoadError, PageHeading, Section } from '../components.tsx';
import type { FieldSpec } from '../form.ts';
import { count, formatKg } from '../format.ts';
import { useForm, usePagedList } from '../hooks.ts';
import { LoadMore, listPageSize } from '../paging.tsx';

// The vessel service's limits (issue 12's contract), checked here first.
const name: FieldSpec = {
  name: 'name',
  id: 'vessel-name',
  what: 'the vessel name',
  blank: 'Enter the vessel’s name',
  maxLength: 100,
};
const capacity: FieldSpec = {
  name: 'capacity',
  id: 'vessel-capacity',
  what: 'the capacity',
  blank: 'Enter how many containers the vessel carries',
  range: { min: 1, max: 100_000, unit: 'containers' },
};
const maxWeight: FieldSpec = {
  name: 'max_weight',
  id: 'vessel-max-weight',
  what: 'the maximum weight',
  blank: 'Enter the heaviest load the vessel carries, in kilograms',
  range: { min: 1, max: 1_000_000_000, unit: 'kilograms' },
};
const specs = [name, capacity, maxWeight];

/** What a vessel carries and what of it is still free; remaining = limit − booked. */
function Load({ vessel }: { readonly vessel: Vessel }) {
  const capacityLeft = Math.max(0, (vessel.capacity ?? 0) - (vessel.used_capacity ?? 0));
  const weightLeft = Math.max(0, (vessel.max_weight ?? 0) - (vessel.used_weight ?? 0));
  return (
    <>
      <div className="meta">
        Carries {count(vessel.capacity ?? 0, 'container')} and {formatKg(vessel.max_weight)}
      </div>
      <div className="meta">
        Booked: {count(vessel.used_capacity ?? 0, 'container')} and {formatKg(vessel.used_weight)} · Room
        left: {count(capacityLeft, 'container')} and {formatKg(weightLeft)}
      </div>
    </>
  );
}

export function VesselsPage({ call }: { readonly call: Call }) {
  const vessels = usePagedList(
    useCallback(
      async (pageToken: string) => {
        const request: PageRequest = { page_size: listPageSize, page_token: pageToken };
        const answer = await call<{ vessels?: Vessel[]; next_page_token?: string }>(
          'vessel',
          'VesselService.List',
          request,
        );
        return { items: answer.vessels ?? [], next: answer.next_page_token ?? '' };
      },
      [call],
    ),
  );
  const form = useForm();
  const fleetHeading = useRef<HTMLHeadingElement>(null);
  const firstField = useRef<HTMLInputElement>(null);
  const items = vessels.data?.items;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const data = new FormData(formElement);
    const values = {
      name: String(data.get('name')).trim(),
      capacity: String(data.get('capacity')).trim(),
      max_weight: String(data.get('max_weight')).trim(),
    };
    form.submit({
      specs,
      values,
      action: async () => {
        // The owner is the caller: the service takes it from the token.
        await call('vessel', 'VesselService.Create', {
          name: values.name,
          capacity: Number(values.capacity),
          max_weight: Number(values.max_weight),
          available: data.get('available') === 'on',
        });
        formElement.reset();
        await vessels.reload();
        return `Vessel “${values.name}” added to the fleet.`;
      },
      // Ready for the next vessel; the note above the button says this one was added.
      after: () => firstField.current?.focus(),
    });
  };

  return (
    <>
      <PageHeading>Vessels</PageHeading>
      <div className="columns">
        <Section title="Fleet" headingRef={fleetHeading}>
          <LoadError
            error={vessels.error}
            retry={() => void vessels.reload().then((ok) => ok && fleetHeading.current?.focus())}
          />
          {items?.length === 0 && <p>No vessels yet.</p>}
          {items === undefined && vessels.loading && <p>Loading vessels…</p>}
          {items && items.length > 0 && (
            <ul className="items" aria-label="Vessels">
              {items.map((vessel) => (
                <li key={vessel.id} data-id={vessel.id} tabIndex={-1}>
                  <strong>{vessel.name}</strong>
                  <span className={vessel.available ? 'badge ok' : 'badge'}>
                    {vessel.available ? 'Available' : 'Not available'}
                  </span>
                  <Load vessel={vessel} />
                </li>
              ))}
            </ul>
          )}
          <LoadMore list={vessels} noun="vessels" />
        </Section>
        <Section title="Add a vessel">
          <form onSubmit={onSubmit} noValidate>
            <Field
              label="Vessel name"
              {...fieldProps(form, name)}
              ref={firstField}
              required
              maxLength={100}
            />
            <Field
              label="Capacity (containers)"
              {...fieldProps(form, capacity)}
              type="number"
              inputMode="numeric"
              min={1}
              max={100_000}
              required
              hint="How many containers it carries, 1 to 100,000"
            />
            <Field
              label="Maximum weight (kg)"
              {...fieldProps(form, maxWeight)}
              type="number"
              inputMode="numeric"
              min={1}
              max={1_000_000_000}
              required
              hint="The heaviest total load it carries, in kilograms"
            />
            <div className="check">
              <input id="vessel-available" name="available" type="checkbox" defaultChecked />
              <label htmlFor="vessel-available">Available for new consignments</label>
            </div>
            <FormEnd form={form} specs={specs} label="Add vessel" busyLabel="Adding vessel…" />
          </form>
        </Section>
      </div>
    </>
  );
}

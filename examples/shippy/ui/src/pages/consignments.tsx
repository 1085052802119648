import { type FormEvent, useCallback, useRef, useState } from 'react';
import { type Consignment, GatewayError, type PageRequest } from '../api.ts';
import type { Call } from '../app.tsx';
import { Field, FormEnd, fieldProps, LoadError, PageHeading, Section } from '../components.tsx';
import type { FieldSpec } from '../form.ts';
import { count, formatKg, formatNumber, formatTime } from '../format.ts';
import { useForm, usePagedList } from '../hooks.ts';
import { LoadMore, listPageSize } from '../paging.tsx';
import { Link } from '../router.tsx';
import type { Session } from '../session.ts';
import { ContainerLines, type Line, lineFieldOf, lineSpecs, newLine } from './container-lines.tsx';

// The consignment service's limits (issue 12's contract), checked here first.
const description: FieldSpec = {
  name: 'description',
  id: 'consignment-description',
  what: 'the description',
  blank: 'Enter a description of the goods',
  maxLength: 500,
};
const weight: FieldSpec = {
  name: 'weight',
  id: 'consignment-weight',
  what: 'the weight',
  blank: 'Enter the total weight in kilograms',
  range: { min: 1, max: 1_000_000_000, unit: 'kilograms' },
};
const maxContainers = 1000;

/** 128 random bits as hex: crypto.randomUUID needs a secure context, which plain http to a host is not. */
function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) =>
    byte.toString(16).padStart(2, '0'),
  ).join('');
}

/** Identical containers (same customer and origin) as one line: `3 × customer-1 from Porto`. */
function groupContainers(consignment: Consignment): Array<{ label: string; quantity: number }> {
  const groups = new Map<string, { label: string; quantity: number }>();
  for (const { customer_id, origin } of consignment.containers ?? []) {
    const label = `${customer_id ?? ''} from ${origin ?? ''}`;
    const group = groups.get(label) ?? { label, quantity: 0 };
    group.quantity++;
    groups.set(label, group);
  }
  return [...groups.values()];
}

/**
 * A refusal for lack of room names the most room there is; the way out is a new
 * vessel, so "Add a vessel" in the service's sentence becomes a link to that form.
 */
function explainNoRoom(error: unknown, message: string) {
  if (!(error instanceof GatewayError) || error.status !== 412) return message;
  const at = message.indexOf('Add a vessel');
  if (at < 0) {
    return (
      <>
        {message} <Link to="/vessels">Add a vessel</Link> or split the consignment.
      </>
    );
  }
  return (
    <>
      {message.slice(0, at)}
      <Link to="/vessels">Add a vessel</Link>
      {message.slice(at + 'Add a vessel'.length)}
    </>
  );
}

export function ConsignmentsPage({ call, session }: { readonly call: Call; readonly session: Session }) {
  const consignments = usePagedList(
    useCallback(
      async (pageToken: string) => {
        const request: PageRequest = { page_size: listPageSize, page_token: pageToken };
        const answer = await call<{ consignments?: Consignment[]; next_page_token?: string }>(
          'consignment',
          'ConsignmentService.Get',
          request,
        );
        return { items: answer.consignments ?? [], next: answer.next_page_token ?? '' };
      },
      [call],
    ),
  );
  const form = useForm();
  const [lines, setLines] = useState<Line[]>(() => [newLine()]);
  // The last request sent, with the id chosen for it: the same request sent again (after a
  // lost answer) keeps its id, so the service books it once; a changed one gets a new id.
  const lastSent = useRef<{ id: string; body: string }>(undefined);
  const listHeading = useRef<HTMLHeadingElement>(null);
  const firstField = useRef<HTMLInputElement>(null);
  const items = consignments.data?.items;

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const data = new FormData(formElement);
    const values: Record<string, string> = {
      description: String(data.get('description')).trim(),
      weight: String(data.get('weight')).trim(),
    };
    for (const line of lines) {
      values[`${line.key}.customer_id`] = line.customer_id.trim();
      values[`${line.key}.origin`] = line.origin.trim();
      values[`${line.key}.quantity`] = line.quantity.trim();
    }
    const total = lines.reduce((sum, line) => sum + (Number(line.quantity) || 0), 0);
    // One entry per container in the API: a line of N identical containers is N entries.
    const containers = lines.flatMap((line) =>
      Array.from({ length: Number(line.quantity) || 0 }, () => ({
        customer_id: line.customer_id.trim(),
        origin: line.origin.trim(),
        user_id: session.userId,
      })),
    );
    form.submit({
      specs: [description, weight, ...lines.flatMap(lineSpecs)],
      values,
      formProblem:
        total > maxContainers
          ? `A consignment holds at most ${formatNumber(maxContainers)} containers; this one has ${formatNumber(total)}. Split it into smaller consignments.`
          : undefined,
      action: async () => {
        const request = { description: values.description, weight: Number(values.weight), containers };
        const body = JSON.stringify(request);
        if (lastSent.current?.body !== body) lastSent.current = { id: randomId(), body };
        await call('consignment', 'ConsignmentService.Create', { id: lastSent.current.id, ...request });
        lastSent.current = undefined;
        formElement.reset();
        setLines([newLine()]);
        await consignments.reload();
        return `Consignment “${values.description}” booked: ${count(containers.length, 'container')}, ${formatKg(Number(values.weight))}.`;
      },
      explain: explainNoRoom,
      locate: (detail) => lineFieldOf(lines, detail),
      // Ready for the next consignment; the note above the button says this one was booked.
      after: () => firstField.current?.focus(),
    });
  };

  return (
    <>
      <PageHeading>Consignments</PageHeading>
      <div className="columns">
        <Section title="Your consignments" headingRef={listHeading}>
          <LoadError
            error={consignments.error}
            retry={() => void consignments.reload().then((ok) => ok && listHeading.current?.focus())}
          />
          {items?.length === 0 && <p>No consignments yet.</p>}
          {items === undefined && consignments.loading && <p>Loading consignments…</p>}
          {items && items.length > 0 && (
            <ul className="items" aria-label="Your consignments">
              {items.map((consignment) => (
                <li key={consignment.id} data-id={consignment.id} tabIndex={-1}>
                  <strong>{consignment.description}</strong>
                  <div className="meta">
                    Reference <span className="mono reference">{consignment.id}</span>
                    {consignment.created_at && <> · booked {formatTime(consignment.created_at)}</>}
                  </div>
                  <div className="meta">
                    Vessel: <span className="vessel">{consignment.vessel_name || consignment.vessel_id}</span>
                  </div>
                  <div className="meta">
                    {formatKg(consignment.weight)} · {count(consignment.containers?.length ?? 0, 'container')}
                  </div>
                  <ul className="containers" aria-label={`Containers of ${consignment.description}`}>
                    {groupContainers(consignment).map(({ label, quantity }) => (
                      <li key={label}>{quantity === 1 ? label : `${formatNumber(quantity)} × ${label}`}</li>
                    ))}
                  </ul>
                </li>
              ))}
            </ul>
          )}
          <LoadMore list={consignments} noun="consignments" />
        </Section>
        <Section title="New consignment">
          <form onSubmit={onSubmit} noValidate>
            <Field
              label="Description"
              {...fieldProps(form, description)}
              ref={firstField}
              required
              maxLength={500}
            />
            <Field
              label="Total weight (kg)"
              {...fieldProps(form, weight)}
              type="number"
              inputMode="numeric"
              min={1}
              max={1_000_000_000}
              required
              hint="All containers together, in kilograms"
            />
            <ContainerLines form={form} lines={lines} setLines={setLines} />
            <FormEnd
              form={form}
              specs={[description, weight, ...lines.flatMap(lineSpecs)]}
              label="Book consignment"
              busyLabel="Booking consignment…"
            />
          </form>
        </Section>
      </div>
    </>
  );
}

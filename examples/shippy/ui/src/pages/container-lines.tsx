/**
 * The containers of a new consignment as lines: each line is a customer, an origin
 * and a quantity of identical containers, so 40 containers for one customer are one
 * line, not 40 rows. Adding a line moves focus to its first field; removing one
 * moves it to the line that took its place (or the one before), never to <body>.
 */
import { type Dispatch, type SetStateAction, useRef, useState } from 'react';
import { Announcement, Field } from '../components.tsx';
import type { FieldSpec } from '../form.ts';
import type { Form } from '../hooks.ts';

export interface Line {
  /** Stable React key and element ids: lines are removed from the middle. */
  readonly key: number;
  readonly customer_id: string;
  readonly origin: string;
  readonly quantity: string;
}

let lastKey = 0;

export function newLine(): Line {
  return { key: ++lastKey, customer_id: '', origin: '', quantity: '1' };
}

function lineId(line: Line, field: string): string {
  return `line-${line.key}-${field}`;
}

/** The consignment service's limits for one container (issue 12's contract), per line. */
export function lineSpecs(line: Line): FieldSpec[] {
  return [
    {
      name: `${line.key}.customer_id`,
      id: lineId(line, 'customer'),
      what: 'the customer ID',
      blank: 'Enter the customer ID of each container line',
      maxLength: 100,
    },
    {
      name: `${line.key}.origin`,
      id: lineId(line, 'origin'),
      what: 'the origin',
      blank: 'Enter where each container line comes from',
      maxLength: 100,
    },
    {
      name: `${line.key}.quantity`,
      id: lineId(line, 'quantity'),
      what: 'the quantity',
      blank: 'Enter how many containers each line has',
      range: { min: 1, max: 1000, unit: 'containers' },
    },
  ];
}

interface Props {
  readonly form: Form;
  readonly lines: readonly Line[];
  readonly setLines: Dispatch<SetStateAction<Line[]>>;
}

export function ContainerLines({ form, lines, setLines }: Props) {
  const [announcement, setAnnouncement] = useState('');
  // Where focus goes once the lines have re-rendered.
  const focusNext = useRef<string>(undefined);
  const focusRef = (id: string) => (element: HTMLInputElement | null) => {
    if (element && focusNext.current === id) {
      focusNext.current = undefined;
      element.focus();
    }
  };

  const edit = (key: number, change: Partial<Line>) =>
    setLines((current) => current.map((line) => (line.key === key ? { ...line, ...change } : line)));

  const add = () => {
    const line = newLine();
    focusNext.current = lineId(line, 'customer');
    setLines((current) => [...current, line]);
    setAnnouncement(`Container line ${lines.length + 1} added.`);
  };

  const remove = (index: number) => {
    const next = lines[index + 1] ?? lines[index - 1];
    if (next) focusNext.current = lineId(next, 'customer');
    setLines((current) => current.filter((_, at) => at !== index));
    setAnnouncement(`Container line ${index + 1} removed; ${lines.length - 1} left.`);
  };

  return (
    <>
      <p className="hint">
        One line per customer and origin; Quantity is how many identical containers it has.
      </p>
      {lines.map((line, index) => {
        const [customer, origin, quantity] = lineSpecs(line);
        return (
          <fieldset key={line.key} className="container-line">
            <legend>Container line {index + 1}</legend>
            <Field
              id={customer!.id}
              ref={focusRef(customer!.id)}
              label="Customer ID"
              error={form.errors[customer!.name]}
              value={line.customer_id}
              onChange={(event) => edit(line.key, { customer_id: event.target.value })}
              required
              maxLength={100}
            />
            <Field
              id={origin!.id}
              label="Origin"
              error={form.errors[origin!.name]}
              value={line.origin}
              onChange={(event) => edit(line.key, { origin: event.target.value })}
              required
              maxLength={100}
            />
            <Field
              id={quantity!.id}
              label="Quantity"
              error={form.errors[quantity!.name]}
              type="number"
              inputMode="numeric"
              min={1}
              max={1000}
              value={line.quantity}
              onChange={(event) => edit(line.key, { quantity: event.target.value })}
              required
            />
            {lines.length > 1 && (
              <button type="button" className="secondary" onClick={() => remove(index)}>
                Remove container line {index + 1}
              </button>
            )}
          </fieldset>
        );
      })}
      <button type="button" className="secondary" onClick={add}>
        Add container line
      </button>
      <Announcement>{announcement}</Announcement>
    </>
  );
}

/**
 * The line a refusal about one container is about: the service names the container
 * by its place in the request (`containers[4].origin`), where each line stands for
 * `quantity` of them.
 */
export function lineFieldOf(lines: readonly Line[], detail: string): string | undefined {
  const match = /containers\[(\d+)\]\.(customer_id|origin)/.exec(detail);
  if (!match) return undefined;
  let first = 0;
  for (const line of lines) {
    first += Number(line.quantity) || 0;
    if (Number(match[1]) < first) return `${line.key}.${match[2]}`;
  }
  return undefined;
}

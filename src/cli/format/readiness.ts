/** Readiness in a table: green, yellow or red at a terminal. */
import type { Readiness } from '../local-system.ts';
import type { Colour, Paint } from './colour.ts';
import type { Cell } from './table.ts';

const colours: Record<Readiness, Colour> = { ready: 'green', 'not ready': 'yellow', unreachable: 'red' };

export function readinessCell(readiness: Readiness, paint: Paint): Cell {
  return { text: readiness, paint: (text) => paint(text, colours[readiness]) };
}

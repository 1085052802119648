/**
 * ANSI colours for a person at a terminal; plain text for pipes, files and
 * anyone who set NO_COLOR (https://no-color.org).
 */
import type { CommandIo } from '../command.ts';

export type Colour = 'green' | 'yellow' | 'red' | 'dim' | 'bold';

const codes: Record<Colour, [number, number]> = {
  green: [32, 39],
  yellow: [33, 39],
  red: [31, 39],
  dim: [2, 22],
  bold: [1, 22],
};

export type Paint = (text: string, colour: Colour) => string;

/** Colour (and pretty logs) only for a terminal, and never when NO_COLOR is set. */
export function colourEnabled(io: Pick<CommandIo, 'isTty' | 'env'>): boolean {
  return io.isTty && (io.env.NO_COLOR ?? '') === '';
}

export function painter(io: CommandIo): Paint {
  if (!colourEnabled(io)) return (text) => text;
  return (text, colour) => `\u001b[${codes[colour][0]}m${text}\u001b[${codes[colour][1]}m`;
}

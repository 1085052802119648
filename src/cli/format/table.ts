/** Aligned columns for terminal output, as `kubectl get` prints them. */

/** A cell: its text, and how to paint it (widths count the text only, so colour codes never skew them). */
export type Cell = string | { readonly text: string; readonly paint: (text: string) => string };

export function renderTable(header: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  const text = (cell: Cell) => (typeof cell === 'string' ? cell : cell.text);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => text(row[column] ?? '').length)),
  );
  const line = (cells: readonly Cell[]) =>
    cells
      .map((cell, column) => {
        const painted = typeof cell === 'string' ? cell : cell.paint(cell.text);
        // The last column is not padded: no trailing spaces.
        const padding = column === cells.length - 1 ? 0 : widths[column] - text(cell).length;
        return painted + ' '.repeat(padding);
      })
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

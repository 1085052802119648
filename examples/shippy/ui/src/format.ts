/** Largest value an int32 proto field holds: the `max` of numeric inputs. */
export const maxInt32 = 2_147_483_647;

export function formatNumber(value: number | undefined): string {
  return (value ?? 0).toLocaleString('en');
}

/**
 * "Load more" under a paged list. Focus moves to the first item it added (each
 * item is focusable for that), so it is read out and the next Tab continues there;
 * the button goes away on the last page, which would otherwise drop focus to <body>.
 */
import { ErrorMessage } from './components.tsx';
import type { PagedList } from './hooks.ts';

/** Items per page asked of list calls (the services' default is 20, their maximum 100). */
export const listPageSize = 10;

export function LoadMore<T extends { readonly id?: string }>({
  list,
  noun,
}: {
  readonly list: PagedList<T>;
  readonly noun: string;
}) {
  if (!list.data?.next) return null;
  const more = async () => {
    const first = await list.loadMore();
    if (first?.id) document.querySelector<HTMLElement>(`[data-id="${CSS.escape(first.id)}"]`)?.focus();
  };
  return (
    <>
      <ErrorMessage>{list.moreError}</ErrorMessage>
      <button
        type="button"
        className="secondary more"
        aria-disabled={list.loadingMore || undefined}
        onClick={() => void more()}
      >
        {list.loadingMore ? `Loading more ${noun}…` : `Load more ${noun}`}
      </button>
    </>
  );
}

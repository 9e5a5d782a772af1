// Screens that list what other desks change follow a sync by themselves.
import { untrack } from 'svelte';

/**
 * Calls `load` again whenever `stamp()` (the last successful sync) changes
 * after the screen opened, unless `paused()` (a form is open on it).
 */
export function reloadOnSync(stamp: () => string | null, load: () => unknown, paused: () => boolean = () => false) {
  let last: string | null | undefined = undefined;
  $effect(() => {
    const s = stamp();
    if (last !== undefined && s !== last && !untrack(paused)) untrack(load);
    last = s;
  });
}

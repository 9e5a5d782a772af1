import type { SyncView } from './bindings';
import { relativeTime } from './format';

export function pendingText(n: number): string {
  if (n === 0) return 'All changes uploaded';
  return n === 1 ? '1 change waiting to upload' : `${n} changes waiting to upload`;
}

export function lastSyncText(s: SyncView, nowMs: number): string {
  return s.last_success ? `last synced ${relativeTime(s.last_success, nowMs)}` : 'not synced yet';
}

/**
 * The first clause of a sync problem, for the status bar (the whole
 * message stays in its tooltip): "The sync server at … cannot be reached"
 * rather than the transport's details after it.
 */
export function shortProblem(message: string, max = 90): string {
  const first = message.split(/(?<=[^0-9])[.:;](?:\s|$)/)[0].trim();
  return first.length > max ? `${first.slice(0, max - 1).trimEnd()}…` : first;
}

import type { SyncView } from './bindings';
import { relativeTime } from './format';

export function pendingText(n: number): string {
  if (n === 0) return 'All changes uploaded';
  return n === 1 ? '1 change waiting to upload' : `${n} changes waiting to upload`;
}

export function lastSyncText(s: SyncView, nowMs: number): string {
  return s.last_success ? `last synced ${relativeTime(s.last_success, nowMs)}` : 'not synced yet';
}

import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { sync } from '../test/fixtures';
import StatusBar from './StatusBar.svelte';

const now = Date.parse('2025-11-24T10:00:00Z');

describe('StatusBar', () => {
  it('shows online, pending changes and the last sync in words', () => {
    render(StatusBar, { sync: { ...sync, pending: 3, last_success: '2025-11-24T09:58:00Z' }, nowMs: now, onSyncNow: vi.fn() });
    const bar = screen.getByTestId('sync-status');
    expect(bar.dataset.online).toBe('true');
    expect(bar.dataset.enrolled).toBe('true');
    expect(bar.dataset.pending).toBe('3');
    expect(bar.textContent).toContain('Online');
    expect(bar.textContent).toContain('3 changes waiting to upload');
    expect(bar.textContent).toContain('last synced 2 min ago');
  });

  it('says whose changes wait for them to sign in', () => {
    const waiting = '2 changes wait for Rita Okafor to sign in on this desk';
    render(StatusBar, { sync: { ...sync, pending: 2, waiting_for_signature: waiting }, nowMs: now, onSyncNow: vi.fn() });
    expect(screen.getByTestId('sync-waiting').textContent).toBe(`${waiting}.`);
  });

  it('shows no waiting signature when nobody\'s changes wait', () => {
    render(StatusBar, { sync: { ...sync, pending: 2 }, nowMs: now, onSyncNow: vi.fn() });
    expect(screen.queryByTestId('sync-waiting')).toBeNull();
  });

  it('shows offline with the last error, and a progress bar while syncing', () => {
    render(StatusBar, {
      sync: { ...sync, online: false, pending: 1, last_error: 'The server cannot be reached', progress: { done: 2, total: 5 } },
      nowMs: now,
      onSyncNow: vi.fn(),
    });
    const bar = screen.getByTestId('sync-status');
    expect(bar.dataset.online).toBe('false');
    expect(bar.textContent).toContain('Offline');
    expect(bar.textContent).toContain('1 change waiting to upload');
    expect(bar.textContent).toContain('The server cannot be reached');
    const progress = bar.querySelector('progress')!;
    expect(progress.value).toBe(2);
    expect(progress.max).toBe(5);
  });

  it('keeps a long transport error to its first clause, the whole of it in the tooltip', () => {
    const long = 'The sync server at http://127.0.0.1:8480 cannot be reached: error sending request for url (http://127.0.0.1:8480/v1/sync/pull): connection refused.';
    render(StatusBar, { sync: { ...sync, online: false, last_error: long }, nowMs: now, onSyncNow: vi.fn() });
    const problem = screen.getByTestId('sync-problem');
    expect(problem.textContent).toBe('The sync server at http://127.0.0.1:8480 cannot be reached. Work goes on; changes are sent when it is back.');
    expect(problem.getAttribute('title')).toBe(long);
  });

  it('says when the computer is not connected to a server', () => {
    render(StatusBar, { sync: { ...sync, enrolled: false, online: false }, nowMs: now, onSyncNow: vi.fn() });
    const bar = screen.getByTestId('sync-status');
    expect(bar.dataset.enrolled).toBe('false');
    expect(bar.textContent).toContain('Not connected to a server');
    expect(screen.queryByTestId('sync-now')).toBeNull();
  });

  it('Sync now calls back', async () => {
    const onSyncNow = vi.fn();
    render(StatusBar, { sync, nowMs: now, onSyncNow });
    expect(screen.getByTestId('sync-status').textContent).toContain('All changes uploaded');
    await fireEvent.click(screen.getByTestId('sync-now'));
    expect(onSyncNow).toHaveBeenCalledTimes(1);
  });
});

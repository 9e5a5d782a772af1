// Shared test helpers. Component tests replace the command functions of
// lib/api with vi.fn() (keeping toClinicError / onSessionLocked real):
//   vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));
import { vi } from 'vitest';
import type { ClinicError } from '../lib/bindings';

const REAL = new Set(['toClinicError', 'onSessionLocked']);

export function mockApi<T extends Record<string, unknown>>(actual: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(actual)) out[k] = typeof v === 'function' && !REAL.has(k) ? vi.fn() : v;
  return out as T;
}

export function clinicError(code: ClinicError['code'], message: string, fields?: ClinicError['fields']): ClinicError {
  return { code, message, fields };
}

/** Lets pending promise callbacks and Svelte updates run. */
export async function flush(times = 5) {
  for (let i = 0; i < times; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

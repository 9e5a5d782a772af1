import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import * as api from '../lib/api';
import { hit } from '../test/fixtures';
import PatientSearch, { SEARCH_DEBOUNCE_MS } from './PatientSearch.svelte';

vi.mock('../lib/api', async (orig) => (await import('../test/helpers')).mockApi(await orig()));
const search = vi.mocked(api.searchPatients);

async function type(input: HTMLElement, value: string) {
  await fireEvent.input(input, { target: { value } });
}

async function settle() {
  await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS);
  await tick();
}

describe('PatientSearch', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    search.mockReset();
  });
  afterEach(() => vi.useRealTimers());

  function setup(onPick = vi.fn()) {
    render(PatientSearch, { id: 'gs', label: 'Find', testid: 'global-search', optionTestid: 'search-result', onPick, canRegister: true });
    return { input: screen.getByTestId('global-search'), onPick };
  }

  it('waits for a pause in typing before searching, then searches once', async () => {
    search.mockResolvedValue([hit()]);
    const { input } = setup();
    await type(input, 's');
    await vi.advanceTimersByTimeAsync(50);
    await type(input, 'sm');
    await vi.advanceTimersByTimeAsync(50);
    await type(input, 'smi');
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS - 1);
    expect(search).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(search).toHaveBeenCalledTimes(1);
    expect(search).toHaveBeenCalledWith('smi', 20);
  });

  it('shows results while typing, with name, preferred name, DOB and age, number and phone', async () => {
    vi.setSystemTime(new Date('2026-06-01T10:00:00'));
    search.mockResolvedValue([hit(), hit({ id: 'p2', first_name: 'John', last_name: 'Smithers', preferred_name: null })]);
    const { input } = setup();
    await type(input, 'smi');
    await settle();
    const rows = screen.getAllByTestId('search-result');
    expect(rows).toHaveLength(2);
    expect(rows[0].getAttribute('data-patient-id')).toBe('p1');
    expect(rows[0].textContent).toContain('Jane Smith');
    expect(rows[0].textContent).toContain('Janey');
    expect(rows[0].textContent).toContain('12 Mar 1985 (41)');
    expect(rows[0].textContent).toContain('P-000001');
    expect(rows[0].textContent).toContain('07700 900123');
  });

  it('ignores an older answer that arrives after a newer one', async () => {
    let slow!: (v: ReturnType<typeof hit>[]) => void;
    search.mockImplementationOnce(() => new Promise((r) => (slow = r)));
    search.mockResolvedValueOnce([hit({ id: 'p9', first_name: 'Newest' })]);
    const { input } = setup();
    await type(input, 'sm');
    await settle();
    await type(input, 'smith');
    await settle();
    slow([hit({ id: 'old', first_name: 'Stale' })]);
    await tick();
    await tick();
    const rows = screen.getAllByTestId('search-result');
    expect(rows.map((r) => r.getAttribute('data-patient-id'))).toEqual(['p9']);
  });

  it('arrow keys move the highlight and Enter opens that patient', async () => {
    const hits = [hit(), hit({ id: 'p2', first_name: 'John' }), hit({ id: 'p3', first_name: 'Mary' })];
    search.mockResolvedValue(hits);
    const { input, onPick } = setup();
    await type(input, 'smi');
    await settle();
    const rows = () => screen.getAllByTestId('search-result');
    expect(rows()[0].getAttribute('aria-selected')).toBe('true');
    await fireEvent.keyDown(input, { key: 'ArrowDown' });
    await fireEvent.keyDown(input, { key: 'ArrowDown' });
    expect(rows()[2].getAttribute('aria-selected')).toBe('true');
    await fireEvent.keyDown(input, { key: 'ArrowUp' });
    expect(rows()[1].getAttribute('aria-selected')).toBe('true');
    expect(input.getAttribute('aria-activedescendant')).toBe(rows()[1].id);
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(onPick).toHaveBeenCalledWith(hits[1]);
    expect(screen.queryAllByTestId('search-result')).toHaveLength(0);
  });

  it('says what to do when nothing matches', async () => {
    search.mockResolvedValue([]);
    const { input } = setup();
    await type(input, 'smi');
    await settle();
    expect(screen.getByText(/No patients match 'smi'\./).textContent).toMatch(/Press Alt\s*\+\s*N to register a new patient/);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import * as api from '../../lib/api';
import type { NoteField, NoteView } from '../../lib/bindings';
import { clinicError, flush } from '../../test/helpers';
import NoteEditor, { AUTOSAVE_MS } from './NoteEditor.svelte';
import ClinicianDay from './ClinicianDay.svelte';
import VitalsTrend from '../../components/VitalsTrend.svelte';

vi.mock('../../lib/api', async (orig) => (await import('../../test/helpers')).mockApi(await orig()));

const FIELDS = ['chief_complaint', 'history', 'examination', 'assessment', 'plan', 'follow_up'];

function field(name: string, over: Partial<NoteField> = {}): NoteField {
  return { field: name, label: name, text: '', saved_text: '', draft_saved_at_local: null, siblings: [], ...over };
}

function noteView(over: Partial<NoteView> = {}): NoteView {
  return {
    id: 'e1', patient_id: 'p1', patient_name: 'Zoë Ó Briain', patient_number: 'P0000001', clinician: 'Dr Grey',
    encounter_type: 'Consultation', status: 'draft', started_local: '2026-12-05T09:00:00',
    fields: FIELDS.map((f) => field(f)),
    vitals: { systolic_mmhg: null, diastolic_mmhg: null, pulse_bpm: null, temperature_c: null, spo2_pct: null, weight_kg: null, height_cm: null, bmi: null },
    vitals_text: '', diagnoses: [], signature: null, addenda: [], prescriptions: [], revisions: [], addendum_draft: null, appointment_conflict: null,
    can_sign: true, not_applied: [], ...over,
  };
}

describe('NoteEditor', () => {
  beforeEach(() => vi.resetAllMocks());
  afterEach(() => vi.useRealTimers());

  it('autosaves a field once typing stops, not on every keystroke, and says when', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    vi.mocked(api.note).mockResolvedValue(noteView());
    vi.mocked(api.saveDraft).mockResolvedValue({ field: 'history', saved_at_local: '2026-12-05T09:01:00' });
    vi.mocked(api.saveNote).mockResolvedValue(noteView());
    render(NoteEditor, { encounterId: 'e1', navigate: vi.fn() });
    await flush();
    const box = screen.getByTestId('field-history') as HTMLTextAreaElement;
    for (const text of ['C', 'Co', 'Cou', 'Cough']) {
      await fireEvent.input(box, { target: { value: text } });
      await vi.advanceTimersByTimeAsync(AUTOSAVE_MS / 3);
    }
    expect(api.saveDraft).not.toHaveBeenCalled();
    expect(screen.getByTestId('save-state').textContent).toBe('Saving…');
    await vi.advanceTimersByTimeAsync(AUTOSAVE_MS);
    expect(api.saveDraft).toHaveBeenCalledTimes(1);
    expect(api.saveDraft).toHaveBeenCalledWith('e1', 'history', 'Cough');
    await vi.advanceTimersByTimeAsync(2000);
    expect(screen.getByTestId('save-state').textContent).toMatch(/^Saved [23] s ago$/);
    // Leaving the field makes the drafts an edit.
    await fireEvent.blur(box);
    await flush();
    expect(api.saveNote).toHaveBeenCalledWith('e1');
  });

  it('asks to confirm unusual vitals and records them once confirmed', async () => {
    vi.mocked(api.note).mockResolvedValue(noteView());
    vi.mocked(api.recordVitals)
      .mockRejectedValueOnce(clinicError('CONFIRMATION_NEEDED', 'Confirm these values before they are kept: oxygen saturation of 62 %…', [{ field: 'spo2_pct', message: '…' }]))
      .mockResolvedValueOnce(noteView({ vitals_text: 'SpO2 62 %' }));
    render(NoteEditor, { encounterId: 'e1', navigate: vi.fn() });
    await flush();
    await fireEvent.input(screen.getByTestId('vitals-spo2'), { target: { value: '62' } });
    await fireEvent.click(screen.getByTestId('record-vitals'));
    await flush();
    expect(screen.getByTestId('vitals-problem').textContent).toContain('62 %');
    await fireEvent.click(screen.getByTestId('confirm-vitals'));
    await flush();
    expect(vi.mocked(api.recordVitals).mock.calls.map((c) => [c[0].spo2, c[0].confirm])).toEqual([[62, false], [62, true]]);
    expect(screen.getByTestId('vitals-text').textContent).toBe('SpO2 62 %');
    // Not a number: said, nothing sent.
    await fireEvent.input(screen.getByTestId('vitals-pulse'), { target: { value: 'fast' } });
    await fireEvent.click(screen.getByTestId('record-vitals'));
    await flush();
    expect(screen.getByTestId('vitals-problem').textContent).toContain('Pulse is not a number');
    expect(api.recordVitals).toHaveBeenCalledTimes(2);
  });

  it('shows a sibling typed on another desk and keeps the version chosen', async () => {
    const sibling = { revision: 'r9', text: 'Cough and fever', by: 'Nurse Joy', at_local: '2026-12-05T09:05:00' };
    vi.mocked(api.note).mockResolvedValue(noteView({
      can_sign: false,
      fields: FIELDS.map((f) => (f === 'history' ? field(f, { text: 'Cough', saved_text: 'Cough', siblings: [sibling] }) : field(f))),
    }));
    vi.mocked(api.resolveSibling).mockResolvedValue(noteView());
    render(NoteEditor, { encounterId: 'e1', navigate: vi.fn() });
    await flush();
    expect(screen.getByTestId('sibling').textContent).toContain('Cough and fever');
    expect((screen.getByTestId('sign-note') as HTMLButtonElement).disabled).toBe(true);
    expect(document.body.textContent).toContain('Choose between the two versions first.');
    await fireEvent.click(screen.getByTestId('keep-sibling'));
    await flush();
    expect(api.resolveSibling).toHaveBeenCalledWith('e1', 'history', 'Cough and fever', ['r9']);
  });

  it('puts a diagnosis on the problem list and records an allergy on the patient’s record', async () => {
    vi.mocked(api.note).mockResolvedValue(noteView({ diagnoses: [{ id: 'd1', code: 'I10', text: 'Essential hypertension' }] }));
    vi.mocked(api.updatePatient).mockResolvedValue({} as never);
    render(NoteEditor, { encounterId: 'e1', navigate: vi.fn() });
    await flush();
    await fireEvent.click(screen.getByTestId('add-problem'));
    await flush();
    expect(api.updatePatient).toHaveBeenCalledWith('p1', {
      add: { conditions: [{ name: 'Essential hypertension', icd10: 'I10', active: true, onset: null }] },
    });
    expect(screen.getByTestId('record-updated').textContent).toContain('problem list');
    await fireEvent.input(screen.getByTestId('allergy-input'), { target: { value: 'Latex' } });
    await fireEvent.submit(screen.getByTestId('allergy-input').closest('form')!);
    await flush();
    expect(vi.mocked(api.updatePatient).mock.calls[1][1]).toEqual({
      add: { allergies: [{ substance: 'Latex', reaction: null, severity: 'moderate' }] },
    });
  });

  it('adds a diagnosis typed as a code alone, a code and text, or text alone', async () => {
    vi.mocked(api.note).mockResolvedValue(noteView());
    vi.mocked(api.changeDiagnoses).mockResolvedValue(noteView());
    render(NoteEditor, { encounterId: 'e1', navigate: vi.fn() });
    await flush();
    const input = screen.getByTestId('diagnosis-input');
    for (const typed of ['j45.909', 'J20.9 Acute bronchitis', 'Viral illness']) {
      await fireEvent.input(input, { target: { value: typed } });
      await fireEvent.submit(input.closest('form')!);
      await flush();
    }
    expect(vi.mocked(api.changeDiagnoses).mock.calls.map((c) => c[1][0])).toEqual([
      { code: 'J45.909', text: '' },
      { code: 'J20.9', text: 'Acute bronchitis' },
      { code: null, text: 'Viral illness' },
    ]);
  });

  it('lists every revision of the note, oldest first', async () => {
    vi.mocked(api.note).mockResolvedValue(noteView({ revisions: [
      { field: 'History', text: 'Cough', by: 'Dr Grey', at_local: '2026-12-05T09:01:00' },
      { field: 'History', text: 'Cough and fever', by: 'Nurse Joy', at_local: '2026-12-05T09:05:00' },
    ] }));
    render(NoteEditor, { encounterId: 'e1', navigate: vi.fn() });
    await flush();
    const history = screen.getByTestId('revisions');
    expect(history.textContent).toContain('Revision history (2)');
    const items = [...history.querySelectorAll('li')].map((li) => li.textContent);
    expect(items[0]).toContain('Dr Grey');
    expect(items[1]).toContain('Cough and fever');
  });

  it('signs with Ctrl+Enter after a confirmation, then offers only addenda', async () => {
    vi.mocked(api.note).mockResolvedValue(noteView());
    vi.mocked(api.signNote).mockResolvedValue(noteView({
      status: 'signed', can_sign: false,
      signature: { by: 'Dr Grey', at_local: '2026-12-05T09:20:00', content_sha256: 'ab'.repeat(32), valid: true },
    }));
    render(NoteEditor, { encounterId: 'e1', navigate: vi.fn() });
    await flush();
    await fireEvent.keyDown(window, { key: 'Enter', ctrlKey: true });
    expect(api.signNote).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId('confirm-sign'));
    await flush();
    expect(api.signNote).toHaveBeenCalledWith('e1');
    expect(screen.getByTestId('note-signed')).toBeTruthy();
    expect(screen.getByTestId('signature').textContent).toContain('The signature holds.');
    // Signed: the text is shown, not offered for editing.
    expect(screen.queryByTestId('field-plan')).toBeNull();
    expect(screen.getByTestId('addendum-input')).toBeTruthy();
  });
});

describe('ClinicianDay', () => {
  beforeEach(() => vi.resetAllMocks());

  it('lists the day with each note’s state and opens a note with Enter, starting it when needed', async () => {
    vi.mocked(api.clinicianDay).mockResolvedValue({
      date: '2026-12-05', clinician: 'Dr Grey', walk_ins: [],
      rows: [
        { appointment_id: 'a1', start_local: '09:00', end_local: '09:15', patient_id: 'p1',
          patient_name: 'Ada Lovelace', patient_number: 'P1', appointment_type: 'Consultation', status: 'arrived',
          encounter_id: null, encounter_status: null },
        { appointment_id: 'a2', start_local: '09:15', end_local: '09:30', patient_id: 'p2',
          patient_name: 'Alan Turing', patient_number: 'P2', appointment_type: 'Consultation', status: 'completed',
          encounter_id: 'e2', encounter_status: 'signed' },
      ],
    });
    vi.mocked(api.startEncounter).mockResolvedValue(noteView({ id: 'e1' }));
    const navigate = vi.fn();
    render(ClinicianDay, { navigate });
    await flush();
    const rows = screen.getAllByTestId('day-row');
    expect(rows.map((r) => r.textContent)).toEqual([
      expect.stringMatching(/09:00–09:15.*Ada Lovelace.*No note yet/),
      expect.stringMatching(/09:15–09:30.*Alan Turing.*Signed/),
    ]);
    const first = screen.getAllByTestId('open-note')[0];
    expect(document.activeElement).toBe(first);
    await fireEvent.keyDown(first, { key: 'ArrowDown' });
    expect(document.activeElement).toBe(screen.getAllByTestId('open-note')[1]);
    await fireEvent.click(screen.getAllByTestId('open-note')[1]);
    expect(navigate).toHaveBeenLastCalledWith({ name: 'note', encounterId: 'e2' });
    expect(api.startEncounter).not.toHaveBeenCalled();
    await fireEvent.click(first);
    await flush();
    expect(api.startEncounter).toHaveBeenCalledWith('p1', 'a1');
    expect(navigate).toHaveBeenLastCalledWith({ name: 'note', encounterId: 'e1' });
    await fireEvent.keyDown(first, { key: 'c' });
    expect(navigate).toHaveBeenLastCalledWith({ name: 'chart', patientId: 'p1' });
  });
});

describe('VitalsTrend', () => {
  it('draws one line per measure through every recorded visit', () => {
    const v = (s: number, d: number, p: number) => ({
      systolic_mmhg: s, diastolic_mmhg: d, pulse_bpm: p, temperature_c: null, spo2_pct: null, weight_kg: null, height_cm: null, bmi: null,
    });
    render(VitalsTrend, { rows: [
      { at_local: '2026-10-01T09:00:00', vitals: v(150, 95, 88), text: 'BP 150/95' },
      { at_local: '2026-11-01T09:00:00', vitals: v(140, 90, 80), text: 'BP 140/90' },
      { at_local: '2026-12-01T09:00:00', vitals: v(128, 82, 72), text: 'BP 128/82' },
    ] });
    for (const s of ['sys', 'dia', 'pulse']) {
      const d = screen.getByTestId(`trend-${s}`).getAttribute('d')!;
      expect(d.match(/[ML]/g)).toHaveLength(3);
    }
    // Higher values sit higher (smaller y).
    const ys = (screen.getByTestId('trend-sys').getAttribute('d')!.match(/,(-?[\d.]+)/g) ?? []).map((x) => Number(x.slice(1)));
    expect(ys[0]).toBeLessThan(ys[2]);
    expect(document.body.textContent).toContain('BP 128/82');
  });
});

describe('PrescriptionPanel', () => {
  beforeEach(() => vi.resetAllMocks());

  it('shows the checks as the medicine is typed and asks for a reason before prescribing past a blocking one', async () => {
    vi.mocked(api.note).mockResolvedValue(noteView());
    vi.mocked(api.checkPrescription).mockResolvedValue([
      { kind: 'allergy', severity: 'contraindicated', message: 'Allergic to penicillins: amoxicillin is a penicillin.', drugs: ['Amoxicillin'], allergy: 'Penicillin' },
      { kind: 'not_checked', severity: 'moderate', message: 'The allergy “blue tablets” is not coded: not checked.', drugs: [], allergy: 'blue tablets' },
    ]);
    vi.mocked(api.prescribe).mockResolvedValue(noteView());
    render(NoteEditor, { encounterId: 'e1', navigate: vi.fn() });
    await flush();
    await fireEvent.input(screen.getByTestId('rx-drug'), { target: { value: 'Amoxicillin' } });
    await new Promise((r) => setTimeout(r, 400));
    await flush();
    const list = screen.getByTestId('rx-warnings');
    expect(list.textContent).toContain('Stops prescribing');
    expect(list.textContent).toContain('Not checked');
    expect(screen.queryByTestId('rx-no-warnings')).toBeNull();
    const submit = screen.getByTestId('rx-submit') as HTMLButtonElement;
    expect(submit.textContent).toContain('Prescribe anyway');
    expect(submit.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('rx-reason'), { target: { value: 'Tolerated it in 2025' } });
    expect(submit.disabled).toBe(false);
    await fireEvent.click(submit);
    await flush();
    expect(vi.mocked(api.prescribe).mock.calls[0][3]).toBe('Tolerated it in 2025');
  });
});

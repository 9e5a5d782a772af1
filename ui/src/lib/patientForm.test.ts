import { describe, expect, it } from 'vitest';
import { patient } from '../test/fixtures';
import { diffPatch, emptyValues, toDetails, unclearable, validate, valuesFrom } from './patientForm';

describe('patient form model', () => {
  it('requires first and last name and rejects impossible dates', () => {
    const v = emptyValues();
    v.date_of_birth = '2025-02-30';
    expect(validate(v, '2025-11-24')).toEqual({
      first_name: 'is required',
      last_name: 'is required',
      date_of_birth: 'is not a real date',
    });
    v.first_name = 'Ann';
    v.last_name = 'Lee';
    v.date_of_birth = '1990-01-02';
    expect(validate(v, '2025-11-24')).toEqual({});
  });

  it('turns empty inputs into null and flags into a list', () => {
    const v = emptyValues();
    v.first_name = ' Ann ';
    v.last_name = 'Lee';
    v.flags = 'Wheelchair user, , Needs interpreter';
    v.reminders_opt_in = 'yes';
    const d = toDetails(v);
    expect(d.first_name).toBe('Ann');
    expect(d.phone).toBeNull();
    expect(d.flags).toEqual(['Wheelchair user', 'Needs interpreter']);
    expect(d.reminders_opt_in).toBe(true);
  });

  it('a patch carries only the changed fields, "" to clear text, null to clear a choice', () => {
    const p = patient({ phone: '0123', city: 'Townsville', sex_at_birth: 'female', flags: ['A'] });
    const v = valuesFrom(p);
    expect(diffPatch(p, v)).toEqual({});
    v.phone = '0999';
    v.city = '';
    v.sex_at_birth = '';
    v.flags = 'A, B';
    expect(diffPatch(p, v)).toEqual({ phone: '0999', city: '', sex_at_birth: null, flags: ['A', 'B'] });
  });

  it('refuses emptying a recorded date or choice instead of sending an edit the store would ignore', () => {
    const p = patient({ date_of_birth: '1985-03-12', sex_at_birth: 'female', phone: '0770' });
    const v = valuesFrom(p);
    v.date_of_birth = '';
    v.sex_at_birth = '';
    v.phone = '';
    expect(unclearable(p, v)).toEqual({
      date_of_birth: 'cannot be removed once recorded: correct it instead',
      sex_at_birth: 'cannot be removed once recorded: correct it instead',
    });
    // Text fields can be cleared: they are not refused.
    expect(unclearable(p, valuesFrom(p))).toEqual({});
  });
});

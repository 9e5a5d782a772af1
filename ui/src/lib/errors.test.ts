import { describe, expect, it } from 'vitest';
import { formErrors } from './errors';

describe('formErrors', () => {
  it('puts known fields next to their inputs and the message at the top otherwise', () => {
    const e = formErrors(
      { code: 'VALIDATION', message: 'Check the form', fields: [{ field: 'details.date_of_birth', message: 'is in the future' }] },
      ['date_of_birth', 'first_name'],
    );
    expect(e.fields).toEqual({ date_of_birth: 'is in the future' });
    expect(e.message).toBeNull();

    const e2 = formErrors({ code: 'VALIDATION', message: 'Check the form', fields: [{ field: 'shoe_size', message: 'is odd' }] }, ['first_name']);
    expect(e2.fields).toEqual({});
    expect(e2.message).toBe('Check the form (shoe size is odd)');

    expect(formErrors({ code: 'UNREACHABLE', message: 'The server cannot be reached' }, []).message).toBe('The server cannot be reached');
  });
});

import type { ClinicError } from './bindings';

export type FormErrors = {
  /** input name -> plain words shown next to that input */
  fields: Record<string, string>;
  /** shown at the top of the form when no input can carry it */
  message: string | null;
};

export const noErrors = (): FormErrors => ({ fields: {}, message: null });

/** "details.date_of_birth" / "req.email" -> "date_of_birth" / "email". */
function fieldKey(field: string): string {
  const parts = field.split('.');
  return parts[parts.length - 1];
}

/**
 * Spreads a ClinicError over a form: each `fields[]` entry whose name is one
 * of `known` lands next to that input; everything else (and the message when
 * no field matched) goes to `message`.
 */
export function formErrors(err: ClinicError, known: readonly string[], labels: Record<string, string> = {}): FormErrors {
  const out: FormErrors = { fields: {}, message: null };
  const stray: string[] = [];
  for (const f of err.fields ?? []) {
    const key = fieldKey(f.field);
    if (known.includes(key)) {
      out.fields[key] = out.fields[key] ? `${out.fields[key]}; ${f.message}` : f.message;
    } else {
      stray.push(`${labels[key] ?? key.replace(/_/g, ' ')} ${f.message}`);
    }
  }
  if (Object.keys(out.fields).length === 0) {
    out.message = stray.length ? `${err.message} (${stray.join('; ')})` : err.message;
  } else if (stray.length) {
    out.message = stray.join('; ');
  }
  return out;
}

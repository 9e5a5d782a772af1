import { describe, expect, it } from 'vitest';
import { shortProblem } from './syncText';

describe('shortProblem', () => {
  it('keeps the first clause, leaves addresses and version numbers whole, and caps the length', () => {
    expect(shortProblem('This device was removed from the clinic. Ask the administrator.')).toBe('This device was removed from the clinic');
    expect(shortProblem('Update to version 1.2.3 to continue')).toBe('Update to version 1.2.3 to continue');
    expect(shortProblem('x'.repeat(200)).length).toBe(90);
  });

  it('keeps what to do about an expired workstation credential in the status bar', () => {
    const server =
      "This workstation's sync credential expired and an administrator signing in here renews it. It was not synced for a long time; its waiting changes are kept.";
    expect(shortProblem(server)).toBe("This workstation's sync credential expired and an administrator signing in here renews it");
  });
});

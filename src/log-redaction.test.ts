import { describe, it, expect } from 'vitest';
import { redactTarget } from './log-redaction.js';

describe('request targets in the log', () => {
  it('never shows a credential, and shows search values only when asked', () => {
    const signed = '/dicomweb/studies/1.2/thumbnail?expires=1700000000&kid=k1&signature=W2yaAbC-_';
    expect(redactTarget(signed, false)).toBe('/dicomweb/studies/1.2/thumbnail?expires=…&kid=…&signature=[REDACTED]');
    expect(redactTarget(signed, true)).toBe(
      '/dicomweb/studies/1.2/thumbnail?expires=1700000000&kid=k1&signature=[REDACTED]',
    );
    expect(redactTarget('/?capability=dwgcap.eyJhbGc', true)).toBe('/?capability=[REDACTED]');
    expect(redactTarget('/studies?access_token=abc&PatientName=doe*', true)).toBe(
      '/studies?access_token=[REDACTED]&PatientName=doe*',
    );
    expect(redactTarget('/studies?PatientName=doe*&limit=5', false)).toBe('/studies?PatientName=…&limit=…');
    // An escaped name is still recognised; a malformed escape does not let the value through.
    expect(redactTarget('/studies?%63apability=secret', true)).toBe('/studies?%63apability=[REDACTED]');
    expect(redactTarget('/studies?%zz=doe', false)).toBe('/studies?%zz=…');
    expect(redactTarget('/studies', false)).toBe('/studies');
  });
});

import { describe, it, expect } from 'vitest';
import { checkSequenceKeys } from './sequence-match.js';

const key = (value: string) => [{ path: [0x00400275, 0x00401001], vr: 'SH' as const, value }];
const withSeq = {
  '00400275': { vr: 'SQ' as const, Value: [{ '00401001': { vr: 'SH' as const, Value: ['RP-1001'] } }] },
};

describe('sequence matching re-applied by the gateway', () => {
  it('keeps a match whose sequence item matches, exactly or by wildcard', () => {
    expect(checkSequenceKeys(withSeq, key('RP-1001'))).toBe('match');
    expect(checkSequenceKeys(withSeq, key('RP-*'))).toBe('match');
    expect(checkSequenceKeys(withSeq, key('RP-100?'))).toBe('match');
  });
  it('drops a match whose returned sequence contradicts the key', () => {
    expect(checkSequenceKeys(withSeq, key('NOPE'))).toBe('no-match');
    expect(checkSequenceKeys({ '00400275': { vr: 'SQ' } }, key('RP-1001'))).toBe('no-match');
  });
  it('cannot verify when the PACS did not return the sequence', () => {
    expect(checkSequenceKeys({}, key('RP-1001'))).toBe('unverifiable');
  });
  it('ignores plain (non-sequence) keys and universal matching', () => {
    expect(checkSequenceKeys({}, [{ path: [0x00100020], vr: 'LO', value: 'X' }])).toBe('match');
    expect(checkSequenceKeys({}, key(''))).toBe('match');
  });
});

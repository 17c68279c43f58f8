import { describe, it, expect } from 'vitest';
import { describeStatus, isFailureStatus, isPending, isStored, isWarningStatus, Status, statusHex } from './status.js';

describe('DIMSE statuses (PS3.7 Annex C)', () => {
  it('classes every warning as stored, as PS3.4 §B.2.3 does: Bxxx, and 0001, 0107, 0116', () => {
    for (const warning of [0xb000, 0xb007, 0xb006, 0x0001, 0x0107, 0x0116]) {
      expect([isWarningStatus(warning), isStored(warning), isFailureStatus(warning)], statusHex(warning)).toEqual([
        true,
        true,
        false,
      ]);
    }
    expect(isStored(Status.Success)).toBe(true);
    for (const failure of [0xa700, 0xa900, 0xc000, 0x0110, 0x0122, 0x0124])
      expect([isStored(failure), isFailureStatus(failure)]).toEqual([false, true]);
    expect([isPending(0xff00), isPending(0xff01), isFailureStatus(0xff01), isFailureStatus(Status.Cancel)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('says a status without a comment in words', () => {
    expect(describeStatus(0xa702)).toBe('out of resources');
    expect(describeStatus(0xc011)).toBe('cannot understand');
    expect(describeStatus(0x0122)).toBe('SOP class not supported');
    expect(describeStatus(0x0001)).toBe('stored with a warning');
    expect(statusHex(0xa801)).toBe('0xA801');
  });
});

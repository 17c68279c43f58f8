/**
 * DIMSE statuses (PS3.7 Annex C) and what the services mean by them (PS3.4 §B.2.3 storage, §C.4 query/retrieve):
 * the one home for their values, their classes and their words, for the network layer, the archives and STOW-RS.
 */
export const Status = {
  Success: 0x0000,
  /** Warnings: Coercion of Data Elements (B000), Elements Discarded (B007), Data Set Does Not Match SOP Class (B006). */
  Warning: 0xb000,
  Pending: 0xff00,
  PendingWarning: 0xff01,
  Cancel: 0xfe00,
  OutOfResources: 0xa700,
  MoveDestinationUnknown: 0xa801,
  IdentifierDoesNotMatchSOPClass: 0xa900,
  UnableToProcess: 0xc000,
  ProcessingFailure: 0x0110,
  SOPClassNotSupported: 0x0122,
  /** Refused: Not Authorized (PS3.7 Annex C.5.x, 0124H). */
  NotAuthorized: 0x0124,
  DuplicateInvocation: 0x0210,
  UnrecognizedOperation: 0x0211,
} as const;

/** FF00 and FF01 (PS3.7 C.4.2): more responses follow. */
export const isPending = (status: number): boolean => status === Status.Pending || status === Status.PendingWarning;

/** Warning statuses (PS3.7 C.3): 0001, Bxxx, and 0107 (attribute list error) and 0116 (value out of range). */
export const isWarningStatus = (status: number): boolean =>
  status === 0x0001 || (status & 0xf000) === 0xb000 || status === 0x0107 || status === 0x0116;

/** Whatever is neither success, pending, cancel nor a warning. */
export const isFailureStatus = (status: number): boolean =>
  !isPending(status) && status !== Status.Success && status !== Status.Cancel && !isWarningStatus(status);

/** What was stored: Success or a warning (PS3.4 §B.2.3: an instance stored with a warning is stored). */
export const isStored = (status: number): boolean => status === Status.Success || isWarningStatus(status);

export const statusHex = (status: number): string => `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;

/** A status in the words of PS3.4 §B.2.3 and PS3.18 Table 10.5.3-2, for a status without an Error Comment. */
export function describeStatus(status: number): string {
  if ((status & 0xff00) === 0xa700) return 'out of resources';
  if ((status & 0xff00) === 0xa900) return 'data set does not match SOP class';
  if ((status & 0xf000) === 0xc000) return 'cannot understand';
  if (status === Status.SOPClassNotSupported) return 'SOP class not supported';
  if (isWarningStatus(status)) return 'stored with a warning';
  return 'processing failure';
}

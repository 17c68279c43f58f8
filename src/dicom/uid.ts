import { createHash } from 'node:crypto';

/**
 * Our UID root: a UUID-derived root under 2.25 (PS3.5 §B.2), fixed once for this product so that the
 * Implementation Class UID is stable across releases.
 */
export const GATEWAY_UID_ROOT = '2.25.196183937294541817064245839128330458327';

/** Implementation Class UID and Version Name (PS3.7 Annex D.3.3.2; the name is at most 16 characters). */
export const IMPLEMENTATION = {
  classUid: `${GATEWAY_UID_ROOT}.1`,
  versionName: 'DWGW_0.1.0',
} as const;

const UID_PATTERN = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;
const UID_SHAPE = /^[0-9]+(\.[0-9]+)*$/;

/**
 * Why a string cannot be a UID, or undefined when it can: 1–64 characters of digit components joined by dots.
 * A component with a leading zero (`1.2.03`) passes here: PS3.5 §9.1 forbids it, but archives written before
 * validation was common hold such UIDs, and a study found by a search must also be retrievable.
 */
export function uidProblem(value: string): string | undefined {
  if (value.length === 0) return 'is empty';
  if (value.length > 64) return `is ${value.length} characters long (at most 64)`;
  if (!UID_SHAPE.test(value)) return 'may hold only digit components separated by dots';
  return undefined;
}

/** What keeps a UID that can be one from conforming to PS3.5 §9.1, or undefined when it conforms. */
export function uidNonConformance(value: string): string | undefined {
  return UID_PATTERN.test(value) ? undefined : 'has a component with a leading zero, which PS3.5 §9.1 does not allow';
}

/** Whether a string can be a UID (see uidProblem: leading zeros are let through). */
export const isValidUid = (value: string): boolean => uidProblem(value) === undefined;

/** A deterministic UID under 2.25 from a label (fixtures and tests). */
export function uidFromLabel(label: string): string {
  const digest = createHash('sha256').update(label).digest();
  return `2.25.${BigInt(`0x${digest.subarray(0, 16).toString('hex')}`).toString()}`;
}

import dcmjs from 'dcmjs';
import { PRIVATE_STORAGE_SOP_CLASSES, STANDARD_STORAGE_SOP_CLASSES } from '../dimse-bridge/sop-classes.js';

/** `sop-classes`: every storage SOP class taken (PS3.4 Annex B), one a line: UID, a tab, its name where known. */
export function sopClassLines(): string[] {
  const names = dcmjs.data.DicomMetaDictionary.sopClassNamesByUID;
  return [
    ...STANDARD_STORAGE_SOP_CLASSES.map((uid) => `${uid}\t${names[uid] ?? ''}`.trimEnd()),
    ...PRIVATE_STORAGE_SOP_CLASSES.map((uid) => `${uid}\tprivate`),
  ];
}

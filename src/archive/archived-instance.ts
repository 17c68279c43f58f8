import { statSync } from 'node:fs';
import { readPart10Header } from '../dicom/part10-reader.js';
import { Tags } from '../dicom/tag.js';
import type { ArchivedInstance } from './archive.js';

/** What the archive records of a Part 10 file, read from its meta information and header. */
export function archivedInstanceOf(file: string): ArchivedInstance {
  const header = readPart10Header(file, 64);
  return {
    sopInstanceUid: header.meta.sopInstanceUid,
    sopClassUid: header.meta.sopClassUid,
    transferSyntaxUid: header.meta.transferSyntaxUid,
    studyInstanceUid: header.dataset.getString(Tags.StudyInstanceUID) ?? '',
    seriesInstanceUid: header.dataset.getString(Tags.SeriesInstanceUID) ?? '',
    seriesNumber: header.dataset.getNumber(Tags.SeriesNumber),
    instanceNumber: header.dataset.getNumber(Tags.InstanceNumber),
    path: file,
    bytes: statSync(file).size,
  };
}

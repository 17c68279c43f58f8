import { statSync } from 'node:fs';
import { readPart10Header, type StoredHeader } from '../dicom/part10-reader.js';
import { Tags } from '../dicom/tag.js';
import type { ArchivedInstance } from './archive.js';

/** What an archive records of a Part 10 file whose header is parsed: its UIDs, numbers, place and size. */
export function archivedInstanceFrom(header: StoredHeader, file: string, bytes: number): ArchivedInstance {
  return {
    sopInstanceUid: header.meta.sopInstanceUid,
    sopClassUid: header.meta.sopClassUid,
    transferSyntaxUid: header.meta.transferSyntaxUid,
    studyInstanceUid: header.dataset.getString(Tags.StudyInstanceUID) ?? '',
    seriesInstanceUid: header.dataset.getString(Tags.SeriesInstanceUID) ?? '',
    seriesNumber: header.dataset.getNumber(Tags.SeriesNumber),
    instanceNumber: header.dataset.getNumber(Tags.InstanceNumber),
    path: file,
    bytes,
  };
}

/** The same, reading the file's header. */
export function archivedInstanceOf(file: string): ArchivedInstance {
  return archivedInstanceFrom(readPart10Header(file, 64), file, statSync(file).size);
}

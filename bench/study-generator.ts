/**
 * Synthetic studies for benchmarks (not tests): N instances of one series, CT (512×512, 16-bit, ~0.5 MB) or MR
 * (256×256, 16-bit, ~130 KB), each with pixels of its own, written as Part 10 files or sent straight into
 * Orthanc over its REST API. One instance is built at a time: a study of 5,000 is never in memory.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Dataset } from '../src/dicom/dataset.js';
import { encodePart10File } from '../src/dicom/part10.js';
import { tag, Tags } from '../src/dicom/tag.js';
import { uidFromLabel } from '../src/dicom/uid.js';

export type Modality = 'CT' | 'MR';

const SOP_CLASS: Record<Modality, string> = { CT: '1.2.840.10008.5.1.4.1.1.2', MR: '1.2.840.10008.5.1.4.1.1.4' };
const SIZE: Record<Modality, number> = { CT: 512, MR: 256 };

export interface StudySpec {
  /** Makes the UIDs: the same label gives the same study. */
  label: string;
  instances: number;
  modality?: Modality;
  patientName?: string;
  patientId?: string;
}

export interface GeneratedStudy {
  studyUid: string;
  seriesUid: string;
  instances: number;
  /** Bytes of all the Part 10 files. */
  bytes: number;
}

export const studyUids = (spec: StudySpec): { studyUid: string; seriesUid: string } => ({
  studyUid: uidFromLabel(`bench/${spec.label}/study`),
  seriesUid: uidFromLabel(`bench/${spec.label}/series`),
});

/** The study's instances as Part 10 files, one at a time. */
export function* studyInstances(spec: StudySpec): Generator<{ index: number; sopInstanceUid: string; file: Buffer }> {
  const modality = spec.modality ?? 'CT';
  const { studyUid, seriesUid } = studyUids(spec);
  const size = SIZE[modality];
  const frame = Buffer.alloc(size * size * 2);
  for (let i = 0; i < spec.instances; i++) {
    for (let p = 0; p < size * size; p++) frame.writeUInt16LE((p + i * 7) & 0x0fff, p * 2);
    const sop = uidFromLabel(`bench/${spec.label}/instance${i}`);
    const ds = new Dataset()
      .setText(Tags.SOPClassUID, SOP_CLASS[modality], 'UI')
      .setText(Tags.SOPInstanceUID, sop, 'UI')
      .setText(tag(0x0008, 0x0060), modality, 'CS')
      .setText(Tags.PatientName, spec.patientName ?? 'Bench^Mark')
      .setText(Tags.PatientID, spec.patientId ?? 'BENCH')
      .setText(Tags.StudyInstanceUID, studyUid, 'UI')
      .setText(Tags.SeriesInstanceUID, seriesUid, 'UI')
      .setText(tag(0x0020, 0x0013), String(i + 1), 'IS')
      .setText(tag(0x0008, 0x0020), '20260101', 'DA')
      .setUint16(Tags.SamplesPerPixel, 1)
      .setText(Tags.PhotometricInterpretation, 'MONOCHROME2', 'CS')
      .setUint16(Tags.Rows, size)
      .setUint16(Tags.Columns, size)
      .setUint16(Tags.BitsAllocated, 16)
      .setUint16(Tags.BitsStored, 12)
      .setUint16(Tags.HighBit, 11)
      .setUint16(Tags.PixelRepresentation, 0)
      .set({ tag: Tags.PixelData, vr: 'OW', bytes: frame });
    yield {
      index: i,
      sopInstanceUid: sop,
      file: encodePart10File(ds, { sopClassUid: SOP_CLASS[modality], sopInstanceUid: sop }),
    };
  }
}

/** Writes the study as `<prefix><n>.dcm` files in `dir`. */
export function writeStudyFiles(dir: string, spec: StudySpec, prefix = 'ct'): GeneratedStudy {
  let bytes = 0;
  for (const { index, file } of studyInstances(spec)) {
    writeFileSync(path.join(dir, `${prefix}${index}.dcm`), file);
    bytes += file.length;
  }
  return { ...studyUids(spec), instances: spec.instances, bytes };
}

/** Sends the study straight into Orthanc (`POST /instances`), `concurrency` uploads at a time. */
export async function sendToOrthanc(httpPort: number, spec: StudySpec, concurrency = 4): Promise<GeneratedStudy> {
  const instances = studyInstances(spec);
  let bytes = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let next = instances.next(); !next.done; next = instances.next()) {
        const { file } = next.value;
        bytes += file.length;
        const res = await fetch(`http://127.0.0.1:${httpPort}/instances`, { method: 'POST', body: file });
        if (!res.ok) throw new Error(`Orthanc refused an instance: HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      }
    }),
  );
  return { ...studyUids(spec), instances: spec.instances, bytes };
}

import { encodePart10File } from '../../src/dicom/part10.js';
import { Dataset } from '../../src/dicom/dataset.js';
import { Tags, tag } from '../../src/dicom/tag.js';

const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

/**
 * The start of a large 16-bit secondary capture instance as Part 10 bytes: the File Meta Information, the dataset,
 * and the Pixel Data element's header announcing `rows × columns × 2` bytes — which the caller then sends or writes
 * in chunks of its own, so that no test holds a whole large instance.
 */
export function largeInstanceHead(
  ids: { study: string; series: string; instance: string; patientName: string },
  rows: number,
  columns: number,
): Buffer {
  const ds = new Dataset()
    .setText(Tags.SOPClassUID, SECONDARY_CAPTURE, 'UI')
    .setText(Tags.SOPInstanceUID, ids.instance, 'UI')
    .setText(Tags.StudyInstanceUID, ids.study, 'UI')
    .setText(Tags.SeriesInstanceUID, ids.series, 'UI')
    .setText(Tags.PatientName, ids.patientName, 'PN')
    .setText(tag(0x0008, 0x0060), 'OT', 'CS')
    .setUint16(Tags.SamplesPerPixel, 1)
    .setText(Tags.PhotometricInterpretation, 'MONOCHROME2', 'CS')
    .setUint16(Tags.Rows, rows)
    .setUint16(Tags.Columns, columns)
    .setUint16(Tags.BitsAllocated, 16)
    .setUint16(Tags.BitsStored, 16)
    .setUint16(Tags.HighBit, 15)
    .setUint16(Tags.PixelRepresentation, 0);
  // (7FE0,0010) OW with a 4-byte length (PS3.5 §7.1.2, Explicit VR Little Endian).
  const pixelHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0, 0, 0, 0, 0]);
  pixelHeader.writeUInt32LE(rows * columns * 2, 8);
  return Buffer.concat([
    encodePart10File(ds, { sopClassUid: SECONDARY_CAPTURE, sopInstanceUid: ids.instance }),
    pixelHeader,
  ]);
}

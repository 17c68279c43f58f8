import { Dataset } from './dataset.js';
import { writeDataset } from './dataset-codec.js';
import { tag } from './tag.js';
import { IMPLEMENTATION } from './uid.js';
import { TransferSyntax } from './transfer-syntax.js';

export interface FileMetaInformation {
  mediaStorageSopClassUid: string;
  mediaStorageSopInstanceUid: string;
  transferSyntaxUid: string;
  implementationClassUid: string;
  implementationVersionName: string;
  sourceApplicationEntityTitle?: string;
}

/**
 * The 128-byte preamble, "DICM" and the File Meta Information group (PS3.10 §7.1), always in Explicit VR
 * Little Endian. The dataset that follows is written as received, in its own transfer syntax.
 */
export function encodeFileMetaHeader(meta: FileMetaInformation): Buffer {
  const group = new Dataset()
    .set({ tag: tag(0x0002, 0x0001), vr: 'OB', bytes: Buffer.from([0x00, 0x01]) })
    .setText(tag(0x0002, 0x0002), meta.mediaStorageSopClassUid, 'UI')
    .setText(tag(0x0002, 0x0003), meta.mediaStorageSopInstanceUid, 'UI')
    .setText(tag(0x0002, 0x0010), meta.transferSyntaxUid, 'UI')
    .setText(tag(0x0002, 0x0012), meta.implementationClassUid, 'UI')
    .setText(tag(0x0002, 0x0013), meta.implementationVersionName, 'SH');
  if (meta.sourceApplicationEntityTitle) group.setText(tag(0x0002, 0x0016), meta.sourceApplicationEntityTitle, 'AE');
  const body = writeDataset(group, { explicitVR: true, littleEndian: true });
  const lengthElement = Buffer.alloc(12);
  lengthElement.writeUInt16LE(0x0002, 0);
  lengthElement.writeUInt16LE(0x0000, 2);
  lengthElement.write('UL', 4, 'latin1');
  lengthElement.writeUInt16LE(4, 6);
  lengthElement.writeUInt32LE(body.length, 8);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), lengthElement, body]);
}

/** A whole Part 10 file of a dataset (fixtures, benchmarks, tests): File Meta Information, then Explicit VR Little Endian. */
export function encodePart10File(ds: Dataset, ids: { sopClassUid: string; sopInstanceUid: string }): Buffer {
  const meta = encodeFileMetaHeader({
    mediaStorageSopClassUid: ids.sopClassUid,
    mediaStorageSopInstanceUid: ids.sopInstanceUid,
    transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
    implementationClassUid: IMPLEMENTATION.classUid,
    implementationVersionName: IMPLEMENTATION.versionName,
  });
  return Buffer.concat([meta, writeDataset(ds, { explicitVR: true, littleEndian: true })]);
}

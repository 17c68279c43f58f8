import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../devkit/processes.js';
import { fixtureFiles } from '../../devkit/fixtures.js';
import { allInstances } from '../../src/samples/catalog.js';
import { encodeFileMetaHeader } from '../../src/dicom/part10.js';
import { readDataset } from '../../src/dicom/dataset-codec.js';
import { tag } from '../../src/dicom/tag.js';
import { TransferSyntax } from '../../src/dicom/transfer-syntax.js';
import { IMPLEMENTATION } from '../../src/dicom/uid.js';
import { tempDir } from '../../devkit/temp.js';

/** Where the File Meta Information ends (PS3.10 §7.1): after the group length element and its value. */
export function metaEnd(file: Buffer): number {
  if (file.toString('latin1', 128, 132) !== 'DICM') throw new Error('not a Part 10 file');
  return 132 + 12 + file.readUInt32LE(140);
}

export function metaOf(file: Buffer): { transferSyntax: string; sopInstanceUid: string; sopClassUid: string } {
  const meta = readDataset(file.subarray(132, metaEnd(file)), { explicitVR: true, littleEndian: true });
  return {
    transferSyntax: meta.getString(tag(0x0002, 0x0010)) ?? '',
    sopInstanceUid: meta.getString(tag(0x0002, 0x0003)) ?? '',
    sopClassUid: meta.getString(tag(0x0002, 0x0002)) ?? '',
  };
}

export interface Variant {
  transferSyntax: string;
  file: string;
  sopInstanceUid: string;
  sopClassUid: string;
}

/**
 * One fixture instance per transfer syntax, each a different SOP instance: DCMTK converts and compresses
 * (dcmconv, dcmcjpeg, dcmcjpls, dcmcrle); syntaxes DCMTK cannot write (JPEG 2000, HTJ2K, MPEG) are the
 * JPEG-LS bit stream relabelled, which is enough for storage (the SCP stores, it does not decode).
 */
export async function makeTransferSyntaxVariants(): Promise<Variant[]> {
  const dir = tempDir('variants');
  const files = fixtureFiles().files;
  const instances = [...allInstances()];
  const pick = (modality: string, n: number): string => {
    const candidates = instances
      .map((inst, i) => ({ inst, file: files[i] as string }))
      .filter((x) => x.inst.series.modality === modality);
    const c = candidates[n];
    if (!c) throw new Error(`not enough ${modality} fixtures`);
    return c.file;
  };
  const out = (name: string): string => path.join(dir, `${name}.dcm`);
  const plan: [string, string, string, string[]][] = [
    [TransferSyntax.ImplicitVRLittleEndian, 'dcmconv', pick('CT', 0), ['+ti']],
    [TransferSyntax.ExplicitVRLittleEndian, 'dcmconv', pick('CT', 1), ['+te']], // storescu sends DCMTK's encoding: start from it
    [TransferSyntax.ExplicitVRBigEndian, 'dcmconv', pick('CT', 2), ['+tb']],
    [TransferSyntax.DeflatedExplicitVRLittleEndian, 'dcmconv', pick('MR', 0), ['+td']],
    [TransferSyntax.JPEGBaseline8Bit, 'dcmcjpeg', pick('US', 0), ['+eb']],
    [TransferSyntax.JPEGExtended12Bit, 'dcmcjpeg', pick('MR', 1), ['+ee']],
    [TransferSyntax.JPEGLossless, 'dcmcjpeg', pick('MR', 2), ['+el']],
    [TransferSyntax.JPEGLosslessSV1, 'dcmcjpeg', pick('MR', 3), ['+e1']],
    [TransferSyntax.JPEGLSLossless, 'dcmcjpls', pick('CT', 3), ['+el']],
    [TransferSyntax.JPEGLSNearLossless, 'dcmcjpls', pick('MR', 5), ['+en']],
    [TransferSyntax.RLELossless, 'dcmcrle', pick('CT', 5), []],
  ];
  const variants: Variant[] = [];
  for (const [ts, tool, source, args] of plan) {
    const target = out(ts);
    if (tool === 'copy') writeFileSync(target, readFileSync(source));
    else await run(tool, [...args, source, target]);
    const meta = metaOf(readFileSync(target));
    if (meta.transferSyntax !== ts) throw new Error(`${tool} wrote ${meta.transferSyntax}, expected ${ts}`);
    variants.push({
      transferSyntax: ts,
      file: target,
      sopInstanceUid: meta.sopInstanceUid,
      sopClassUid: meta.sopClassUid,
    });
  }
  const relabelled = [
    TransferSyntax.JPEG2000Lossless,
    TransferSyntax.JPEG2000,
    TransferSyntax.HTJ2KLossless,
    TransferSyntax.HTJ2KLosslessRPCL,
    TransferSyntax.HTJ2K,
    TransferSyntax.MPEG4HP41,
  ];
  const relabelSources = [pick('CT', 6), pick('CT', 7), pick('CT', 8), pick('CT', 9), pick('CT', 10), pick('MR', 4)];
  for (const [i, ts] of relabelled.entries()) {
    const base = out(`jls-${i}`);
    await run('dcmcjpls', ['+el', relabelSources[i] as string, base]);
    const bytes = readFileSync(base);
    const meta = metaOf(bytes);
    const header = encodeFileMetaHeader({
      mediaStorageSopClassUid: meta.sopClassUid,
      mediaStorageSopInstanceUid: meta.sopInstanceUid,
      transferSyntaxUid: ts,
      implementationClassUid: IMPLEMENTATION.classUid,
      implementationVersionName: IMPLEMENTATION.versionName,
    });
    writeFileSync(out(ts), Buffer.concat([header, bytes.subarray(metaEnd(bytes))]));
    variants.push({
      transferSyntax: ts,
      file: out(ts),
      sopInstanceUid: meta.sopInstanceUid,
      sopClassUid: meta.sopClassUid,
    });
  }
  const uids = new Set(variants.map((v) => v.sopInstanceUid));
  if (uids.size !== variants.length) throw new Error('variants must be distinct SOP instances');
  return variants;
}

/** A storescu association profile proposing exactly one presentation context (dependencies.md). */
export function storescuProfile(dir: string, sopClassUid: string, transferSyntax: string): string {
  const file = path.join(dir, `profile-${transferSyntax}.cfg`);
  writeFileSync(
    file,
    `[[TransferSyntaxes]]
[TS]
TransferSyntax1 = ${transferSyntax}
[[PresentationContexts]]
[PC]
PresentationContext1 = ${sopClassUid}\\TS
[[Profiles]]
[Send]
PresentationContexts = PC
`,
  );
  return file;
}

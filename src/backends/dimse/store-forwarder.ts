import { createReadStream, createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { IncomingDataset, StoreStatus } from '../../archive/archive.js';
import type { AssociationPool, DedicatedAssociation } from '../../dimse-bridge/association-pool.js';
import { commandMismatch } from '../../dimse-bridge/storage-scp.js';
import { Status } from '../../dicom/status.js';
import type { CodecPool } from '../../codecs/codec-pool.js';
import { conversionProblem, transcodedDataset } from '../../codecs/transcode.js';
import { encodeFileMetaHeader } from '../../dicom/part10.js';
import { readPart10Header, type StoredHeader } from '../../dicom/part10-reader.js';
import { Tags } from '../../dicom/tag.js';
import { UNCOMPRESSED_TRANSFER_SYNTAXES } from '../../dicom/transfer-syntax.js';
import { IMPLEMENTATION } from '../../dicom/uid.js';
import type { Logger } from '../../logger.js';

/** PS3.4 §B.2.3 statuses the forwarder answers itself. */
const CANNOT_UNDERSTAND = Status.UnableToProcess;
const PROCESSING_FAILURE = Status.ProcessingFailure;
const SOP_CLASS_NOT_SUPPORTED = Status.SOPClassNotSupported;

/**
 * Instances stored through the gateway in front of a PACS (STOW-RS, `import`): each is spooled to a file as it
 * arrives (nothing whole in memory), checked, and sent by C-STORE (PS3.4 §B.2, PS3.7 §9.1.1) on an association
 * of its own proposing its SOP class in its own transfer syntax and, apart, uncompressed. When the PACS takes only
 * uncompressed, the instance is decoded to it (lossless from what was stored; transcode.ts). The answer is the
 * PACS's own status: success only when the PACS said so; a duplicate is whatever the PACS makes of it.
 */
export class StoreForwarder {
  constructor(
    private readonly pool: AssociationPool,
    private readonly spoolDir: string,
    private readonly codecs: CodecPool,
    private readonly log: Logger,
  ) {
    mkdirSync(spoolDir, { recursive: true });
    // Spool files are never wanted after a restart: an upload they belonged to was answered, or failed.
    for (const name of readdirSync(spoolDir)) rmSync(path.join(spoolDir, name), { force: true });
  }

  /** Removes the spool directory (a forwarder of its own, as `import` has). */
  close(): void {
    rmSync(this.spoolDir, { recursive: true, force: true });
  }

  async store(incoming: IncomingDataset): Promise<StoreStatus> {
    const file = path.join(this.spoolDir, `${randomUUID()}.dcm`);
    try {
      await spool(file, incoming);
      let header: StoredHeader;
      try {
        header = readPart10Header(file);
      } catch (err) {
        return { status: CANNOT_UNDERSTAND, comment: `not a dataset that parses: ${(err as Error).message}` };
      }
      const ds = header.dataset;
      const arrived = {
        sopClassUid: ds.getString(Tags.SOPClassUID) ?? '',
        sopInstanceUid: ds.getString(Tags.SOPInstanceUID) ?? '',
        studyInstanceUid: ds.getString(Tags.StudyInstanceUID) ?? '',
        seriesInstanceUid: ds.getString(Tags.SeriesInstanceUID) ?? '',
      };
      const refusal = commandMismatch(incoming, arrived) ?? incoming.verify?.(arrived);
      if (refusal) return { status: refusal.status, ...(refusal.comment ? { comment: refusal.comment } : {}) };
      return await this.send(header, incoming);
    } finally {
      rmSync(file, { force: true });
    }
  }

  private async send(header: StoredHeader, incoming: IncomingDataset): Promise<StoreStatus> {
    const stored = incoming.transferSyntaxUid;
    const uncompressed = UNCOMPRESSED_TRANSFER_SYNTAXES.filter((t) => t !== stored);
    const contexts: DedicatedAssociation = {
      presentationContexts: [
        { abstractSyntax: incoming.sopClassUid, transferSyntaxes: [stored] },
        { abstractSyntax: incoming.sopClassUid, transferSyntaxes: uncompressed },
      ],
      roleSelections: [],
    };
    const lease = await this.pool.acquire(contexts);
    let ok = false;
    try {
      const association = lease.client.association;
      const asStored = association.findContext(incoming.sopClassUid, [stored]);
      if (asStored?.transferSyntax === stored) {
        const status = await lease.client.store(
          incoming.sopClassUid,
          incoming.sopInstanceUid,
          stored,
          createReadStream(header.path, { start: header.datasetOffset }),
        );
        ok = true;
        return { status };
      }
      const other = association.findContext(incoming.sopClassUid, uncompressed);
      if (!other)
        return {
          status: SOP_CLASS_NOT_SUPPORTED,
          comment: `the PACS accepts no presentation context for SOP class ${incoming.sopClassUid}`,
        };
      const problem = conversionProblem(header, other.transferSyntax);
      if (problem)
        return {
          status: PROCESSING_FAILURE,
          comment: `the PACS takes ${incoming.sopClassUid} only as ${other.transferSyntax}: ${problem}`,
        };
      this.log.info(
        { sopInstanceUid: incoming.sopInstanceUid, from: stored, to: other.transferSyntax },
        'the PACS does not take the stored transfer syntax: transcoded',
      );
      const status = await lease.client.store(
        incoming.sopClassUid,
        incoming.sopInstanceUid,
        other.transferSyntax,
        transcodedDataset(header, other.transferSyntax, this.codecs),
      );
      ok = true;
      return { status };
    } finally {
      lease.release(ok);
    }
  }
}

/** The incoming dataset written to `file` as Part 10 (stream/promises pipeline: backpressure, and errors propagate). */
async function spool(file: string, incoming: IncomingDataset): Promise<void> {
  const meta = encodeFileMetaHeader({
    mediaStorageSopClassUid: incoming.sopClassUid,
    mediaStorageSopInstanceUid: incoming.sopInstanceUid,
    transferSyntaxUid: incoming.transferSyntaxUid,
    implementationClassUid: IMPLEMENTATION.classUid,
    implementationVersionName: IMPLEMENTATION.versionName,
    sourceApplicationEntityTitle: incoming.source,
  });
  await pipeline(
    Readable.from(
      (async function* () {
        yield meta;
        yield* incoming.dataset;
      })(),
    ),
    createWriteStream(file, { flags: 'wx' }),
  );
}

import net from 'node:net';
import { Association, type AcceptDecision } from '../../src/dimse-bridge/association.js';
import { CommandField, type DimseCommand } from '../../src/dimse-bridge/command.js';
import { PresentationContextResult } from '../../src/dimse-bridge/pdu.js';
import { IMPLEMENTATION } from '../../src/dicom/uid.js';
import type { Dataset } from '../../src/dicom/dataset.js';
import { readDataset } from '../../src/dicom/dataset-codec.js';
import { encodingOf } from '../../src/dicom/transfer-syntax.js';

/**
 * A scripted DICOM peer built on our own acceptor: accepts every presentation context, then lets the test
 * decide what to do with each command (answer with a status, stay silent, abort).
 */
export interface FakeScp {
  port: number;
  associations: number;
  close(): Promise<void>;
}

export type CommandBehaviour = (
  command: DimseCommand,
  reply: (status: number, extra?: Partial<DimseCommand>, dataset?: Buffer) => Promise<void>,
  association: Association,
  identifier?: Dataset,
  presentationContextId?: number,
  /** Bytes straight onto the connection, bypassing our own encoder (to break the protocol on purpose). */
  writeRaw?: (bytes: Buffer) => void,
) => void;

export async function startFakeScp(
  onCommand: CommandBehaviour,
  options: { reject?: AcceptDecision } = {},
): Promise<FakeScp> {
  const sockets = new Set<net.Socket>();
  const state = { associations: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    void Association.accept(socket, {
      implementation: IMPLEMENTATION,
      maxPduLength: 65536,
      timeouts: { artimMs: 5000 },
      decide: (rq) =>
        options.reject ?? {
          accept: true,
          presentationContexts: rq.presentationContexts.map((pc) => ({
            id: pc.id,
            result: PresentationContextResult.Acceptance,
            transferSyntax: pc.transferSyntaxes[0] ?? '1.2.840.10008.1.2',
          })),
        },
    }).then((association) => {
      if (!association) return;
      state.associations++;
      association.setHandler({
        onCommand(pcId, command) {
          const responseField = command.commandField | 0x8000;
          const reply = (status: number, extra: Partial<DimseCommand> = {}, dataset?: Buffer): Promise<void> =>
            association
              .send(
                pcId,
                {
                  commandField: responseField,
                  hasDataset: dataset !== undefined,
                  messageIdBeingRespondedTo: command.messageId ?? 0,
                  affectedSopClassUid: command.affectedSopClassUid ?? '',
                  status,
                  ...extra,
                },
                dataset,
              )
              .catch(() => {});
          const writeRaw = (bytes: Buffer): void => {
            socket.write(bytes);
          };
          if (!command.hasDataset) {
            onCommand(command, reply, association, undefined, pcId, writeRaw);
            return undefined;
          }
          const chunks: Buffer[] = [];
          const ts = association.acceptedContexts.get(pcId)?.transferSyntax ?? '1.2.840.10008.1.2';
          return {
            write: (c: Buffer) => {
              chunks.push(c);
            },
            end: () =>
              onCommand(
                command,
                reply,
                association,
                readDataset(Buffer.concat(chunks), encodingOf(ts)),
                pcId,
                writeRaw,
              ),
            abort: () => {},
          };
        },
      });
      association.startReading();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get associations() {
      return state.associations;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export const isEcho = (c: DimseCommand): boolean => c.commandField === CommandField.CEchoRQ;
export const isFind = (c: DimseCommand): boolean => c.commandField === CommandField.CFindRQ;

import { parentPort, workerData } from 'node:worker_threads';
import { ArchiveIndex, type IndexedInstance } from './archive-index.js';

/**
 * The archive index's one writer, in a thread of its own (index-writer.ts): its commits (and their WAL syncs)
 * never block the event loop that serves requests and receives instances.
 */
const index = new ArchiveIndex((workerData as { file: string }).file);

parentPort?.on('message', (message: { id: number; rows: IndexedInstance[] } | { close: true }) => {
  if ('close' in message) {
    index.close();
    parentPort?.postMessage({ closed: true });
    return;
  }
  try {
    const added =
      message.rows.length === 1 ? Number(index.add(message.rows[0] as IndexedInstance)) : index.addAll(message.rows);
    parentPort?.postMessage({ id: message.id, added });
  } catch (err) {
    parentPort?.postMessage({
      id: message.id,
      error: { message: (err as Error).message, code: (err as { code?: string }).code },
    });
  }
});

/**
 * A codec worker thread (piscina): decodes or encodes one frame per task, off the event loop. The result is
 * structured-cloned back (a copy of one frame costs far less than decoding it).
 */
import { createRequire } from 'node:module';
import { decodeFrame, encodeFrame, initCodecs } from './frame-codec.js';
import type { CodecResult, CodecTask } from './codec-task.js';

const require = createRequire(import.meta.url);
await initCodecs(require.resolve('dcmjs-codecs/build/dcmjs-native-codecs.wasm'));

export default function run(task: CodecTask): CodecResult {
  return task.op === 'decode'
    ? decodeFrame(task.transferSyntaxUid, task.format, task.data)
    : encodeFrame(task.transferSyntaxUid, task.format, task.data);
}

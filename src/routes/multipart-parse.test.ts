import { describe, it, expect } from 'vitest';
import { multipartParts } from './multipart-parse.js';

async function collect(
  body: Buffer,
  boundary: string,
  chunk: number,
): Promise<{ headers: Record<string, string>; body: string }[]> {
  async function* source(): AsyncGenerator<Buffer> {
    for (let at = 0; at < body.length; at += chunk) yield body.subarray(at, at + chunk);
  }
  const out: { headers: Record<string, string>; body: string }[] = [];
  for await (const part of multipartParts(source(), boundary)) {
    const bytes: Buffer[] = [];
    for await (const c of part.body) bytes.push(Buffer.from(c));
    out.push({ headers: part.headers, body: Buffer.concat(bytes).toString('latin1') });
  }
  return out;
}

const body = Buffer.from(
  [
    'preamble to ignore\r\n',
    '--XyZ\r\nContent-Type: application/dicom\r\n\r\nfirst part\r\n--X not a boundary\r\n',
    '--XyZ  \r\nContent-Type: text/plain\r\nContent-Location: /a\r\n\r\n',
    '\r\n--XyZ--\r\nepilogue',
  ].join(''),
  'latin1',
);

describe('multipartParts', () => {
  it('finds the same parts however the body is cut into chunks', async () => {
    const expected = [
      { headers: { 'content-type': 'application/dicom' }, body: 'first part\r\n--X not a boundary' },
      { headers: { 'content-type': 'text/plain', 'content-location': '/a' }, body: '' },
    ];
    for (let chunk = 1; chunk <= body.length; chunk++)
      expect(await collect(body, 'XyZ', chunk), `chunks of ${chunk}`).toEqual(expected);
  });

  it('skips a part its reader left unread, and refuses a body without its boundary or cut short', async () => {
    const names: string[] = [];
    async function* once(): AsyncGenerator<Buffer> {
      yield body;
    }
    for await (const part of multipartParts(once(), 'XyZ')) names.push(part.headers['content-type'] ?? '');
    expect(names).toEqual(['application/dicom', 'text/plain']);
    await expect(collect(Buffer.from('no parts here'), 'XyZ', 4)).rejects.toThrow(/no boundary/);
    await expect(collect(body.subarray(0, 60), 'XyZ', 7)).rejects.toThrow(/ends inside a part/);
  });
});

/** A strict multipart/related reader for tests (RFC 2046 §5.1): it fails on a body without its closing delimiter. */
export interface ParsedPart {
  headers: Record<string, string>;
  body: Buffer;
}

export function boundaryOf(contentType: string | null): string {
  const m = /boundary="?([^";]+)"?/i.exec(contentType ?? '');
  if (!m?.[1]) throw new Error(`no boundary in ${contentType}`);
  return m[1];
}

export function parseMultipart(body: Buffer, boundary: string): ParsedPart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: ParsedPart[] = [];
  let at = body.indexOf(delimiter);
  if (at !== 0) throw new Error('the body does not start with the boundary');
  for (;;) {
    const after = at + delimiter.length;
    if (body.subarray(after, after + 2).toString() === '--') return parts;
    const headerEnd = body.indexOf('\r\n\r\n', after);
    if (headerEnd < 0) throw new Error('part without a header end');
    const headers: Record<string, string> = {};
    for (const line of body
      .subarray(after + 2, headerEnd)
      .toString('latin1')
      .split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) throw new Error('multipart body without its closing delimiter');
    parts.push({ headers, body: body.subarray(headerEnd + 4, next) });
    at = next + 2;
  }
}

export async function fetchMultipart(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; parts: ParsedPart[]; json?: unknown }> {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  if (!res.ok)
    return { status: res.status, headers: res.headers, parts: [], json: JSON.parse(body.toString('utf8')) as unknown };
  return {
    status: res.status,
    headers: res.headers,
    parts: parseMultipart(body, boundaryOf(res.headers.get('content-type'))),
  };
}

/** PGM/PPM (binary, maxval 255) as written by `dcmj2pnm +op`, and image comparisons for pixel tests. */
export interface Bitmap {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Buffer;
}

export function parsePnm(file: Buffer): Bitmap {
  const header: string[] = [];
  let at = 0;
  while (header.length < 4) {
    while (/\s/.test(String.fromCharCode(file[at] as number))) at++;
    if (file[at] === 0x23) {
      while (file[at] !== 0x0a) at++;
      continue;
    }
    let token = '';
    while (!/\s/.test(String.fromCharCode(file[at] as number))) token += String.fromCharCode(file[at++] as number);
    header.push(token);
  }
  at++; // one whitespace byte after maxval
  const [magic, w, h, max] = header;
  if ((magic !== 'P5' && magic !== 'P6') || max !== '255')
    throw new Error(`not an 8-bit binary PNM: ${header.join(' ')}`);
  const channels = magic === 'P5' ? 1 : 3;
  const width = Number(w);
  const height = Number(h);
  return { width, height, channels, data: file.subarray(at, at + width * height * channels) };
}

/** Peak signal-to-noise ratio in dB between two 8-bit images of the same size (Infinity when identical). */
export function psnr(a: Bitmap, b: Bitmap): number {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels)
    throw new Error(`sizes differ: ${a.width}×${a.height}×${a.channels} vs ${b.width}×${b.height}×${b.channels}`);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = (a.data[i] as number) - (b.data[i] as number);
    sum += d * d;
  }
  const mse = sum / a.data.length;
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse);
}

/** Largest absolute difference of any sample. */
export function maxDifference(a: Bitmap, b: Bitmap): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs((a.data[i] as number) - (b.data[i] as number)));
  return max;
}

/** Colour-by-plane and colour-by-pixel sample orders (PS3.3 C.7.6.3.1.3, Planar Configuration 1 and 0). */

/** Colour-by-pixel to colour-by-plane (PS3.3 C.7.6.3.1.3). */
export function deinterleave(interleaved: Uint8Array, pixels: number, bytesPerSample: number): Uint8Array {
  const out = new Uint8Array(interleaved.length);
  const plane = pixels * bytesPerSample;
  for (let p = 0; p < pixels; p++) {
    for (let s = 0; s < 3; s++) {
      for (let b = 0; b < bytesPerSample; b++)
        out[s * plane + p * bytesPerSample + b] = interleaved[(p * 3 + s) * bytesPerSample + b] as number;
    }
  }
  return out;
}

/** Colour-by-plane to colour-by-pixel (PS3.3 C.7.6.3.1.3). */
export function interleave(planar: Uint8Array, pixels: number, bytesPerSample: number): Uint8Array {
  const out = new Uint8Array(planar.length);
  const plane = pixels * bytesPerSample;
  for (let p = 0; p < pixels; p++) {
    for (let s = 0; s < 3; s++) {
      for (let b = 0; b < bytesPerSample; b++)
        out[(p * 3 + s) * bytesPerSample + b] = planar[s * plane + p * bytesPerSample + b] as number;
    }
  }
  return out;
}

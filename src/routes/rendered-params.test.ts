import { describe, it, expect } from 'vitest';
import {
  renderedMedia,
  parseWindow,
  parseViewport,
  parseQuality,
  parseAnnotation,
  parseIccProfile,
} from './rendered-params.js';

describe('rendered media types (PS3.18 §8.7.4)', () => {
  it.each([
    [undefined, undefined, 'image/jpeg', 'image/jpeg'],
    [undefined, 'image/png', 'image/png', undefined],
    [undefined, 'image/*', 'image/jpeg', undefined],
    [undefined, 'text/html, image/gif;q=0.5', 'image/gif', undefined],
    [undefined, 'multipart/related; type="image/png"', undefined, 'image/png'],
    ['image/gif', 'image/png', 'image/gif', undefined],
    [['image/png', 'multipart/related;type=image/jpeg'], undefined, 'image/png', 'image/jpeg'],
  ])('accept=%j, Accept: %s → single %s, multipart %s', (query, header, single, multipart) => {
    const m = renderedMedia(query, header);
    expect(m.single).toBe(single);
    expect(m.multipart).toBe(multipart);
  });

  it('accepts documents by exact type, type wildcard or */*', () => {
    expect(renderedMedia(undefined, 'application/pdf').documents('application/pdf')).toBe(true);
    expect(renderedMedia(undefined, 'text/*').documents('text/html')).toBe(true);
    expect(renderedMedia(undefined, 'image/jpeg').documents('application/pdf')).toBe(false);
  });
});

describe('rendered parameters (PS3.18 §8.3.5)', () => {
  it('parses window with each function, and names what is wrong', () => {
    expect(parseWindow('40,400')).toEqual({ center: 40, width: 400, fn: 'LINEAR' });
    expect(parseWindow('-600,1500,linear-exact')).toEqual({ center: -600, width: 1500, fn: 'LINEAR_EXACT' });
    expect(parseWindow('40,400,SIGMOID')).toEqual({ center: 40, width: 400, fn: 'SIGMOID' });
    expect(() => parseWindow('40,400,log')).toThrow(/unknown function "log"/);
    expect(() => parseWindow('40,0.5')).toThrow(/at least 1/);
  });

  it('parses viewports with optional region values', () => {
    expect(parseViewport('512,256')).toEqual({ width: 512, height: 256 });
    expect(parseViewport('512,256,10,20,-100,50')).toEqual({
      width: 512,
      height: 256,
      region: { x: 10, y: 20, width: -100, height: 50 },
    });
    expect(parseViewport('512,256,,,,')).toEqual({ width: 512, height: 256 });
    expect(() => parseViewport('512,256,1.5,0,10,10')).toThrow(/sx/);
  });

  it('parses quality, annotation and iccprofile', () => {
    expect(parseQuality(undefined, 90)).toBe(90);
    expect(parseQuality('1', 90)).toBe(1);
    expect(() => parseQuality('101', 90)).toThrow(/quality/);
    expect(parseAnnotation(['patient', 'technique,scale'])).toEqual({
      patient: true,
      technique: true,
      unknown: ['scale'],
    });
    expect(parseIccProfile('srgb')).toBe(true);
    expect(() => parseIccProfile('displayp3')).toThrow(/iccprofile/);
  });
});

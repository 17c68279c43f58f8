import { describe, it, expect } from 'vitest';
import { parseAccept, negotiate, simpleOffer, multipartOffer } from './accept.js';

const offers = [
  simpleOffer('json', 'application/dicom+json', ['application/json']),
  multipartOffer('xml', 'application/dicom+xml'),
];
const pick = (accept?: string): string | undefined => negotiate(parseAccept(accept), offers);

describe('Accept negotiation (PS3.18 §8.7)', () => {
  it.each([
    [undefined, 'json'],
    ['application/dicom+json', 'json'],
    ['application/json', 'json'],
    ['*/*', 'json'],
    ['application/*', 'json'],
    ['multipart/related; type="application/dicom+xml"', 'xml'],
    ['multipart/related; type=application/dicom+xml', 'xml'],
    ["multipart/related; type='application/dicom+xml'", 'xml'],
    ['multipart/related;type="application/dicom+xml";q=0.9, application/dicom+json;q=0.5', 'xml'],
    ['application/dicom+json;q=0.2, multipart/related; type="application/dicom+xml"', 'xml'],
    ['image/jpeg, */*;q=0.1', 'json'],
    ['image/jpeg', undefined],
    ['application/dicom+json;q=0', undefined],
    ['multipart/related; type="application/dicom"', undefined],
  ])('Accept: %s → %s', (accept, expected) => {
    expect(pick(accept)).toBe(expected);
  });

  it('keeps commas inside quoted parameters', () => {
    const ranges = parseAccept(
      'multipart/related; type="application/octet-stream"; transfer-syntax="*", application/dicom+json',
    );
    expect(ranges.map((r) => `${r.type}/${r.subtype}`)).toEqual(['multipart/related', 'application/dicom+json']);
    expect(ranges[0]?.params['transfer-syntax']).toBe('*');
  });
});

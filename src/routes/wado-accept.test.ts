import { describe, it, expect } from 'vitest';
import { instanceSyntaxes, frameOptions } from './wado-accept.js';

describe('instanceSyntaxes (PS3.18 §8.7.3.5)', () => {
  it.each([
    [undefined, ['1.2.840.10008.1.2.1']],
    ['*/*', ['1.2.840.10008.1.2.1']],
    ['multipart/related; type="application/dicom"', ['1.2.840.10008.1.2.1']],
    ['multipart/related; type=application/dicom; transfer-syntax=*', ['*']],
    [
      'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90, multipart/related; type="application/dicom"; transfer-syntax=*; q=0.5',
      ['1.2.840.10008.1.2.4.90', '*'],
    ],
    [
      'multipart/related; type="application/dicom"; transfer-syntax=*; q=0.2, multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.5',
      ['1.2.840.10008.1.2.5', '*'],
    ],
  ])('Accept: %s → %j', (accept, expected) => {
    expect(instanceSyntaxes(accept)).toEqual(expected);
  });

  it('answers 406 for media types other than application/dicom and for transfer syntaxes that are not UIDs', () => {
    expect(() => instanceSyntaxes('application/dicom+json')).toThrow(expect.objectContaining({ statusCode: 406 }));
    // A bare application/dicom asks for a single-part answer, which is not what is sent.
    expect(() => instanceSyntaxes('application/dicom')).toThrow(expect.objectContaining({ statusCode: 406 }));
    expect(instanceSyntaxes('application/dicom, multipart/related; type="application/dicom"; q=0.5')).toEqual([
      '1.2.840.10008.1.2.1',
    ]);
    expect(() => instanceSyntaxes('multipart/related; type="application/dicom"; transfer-syntax=jpeg')).toThrow(
      expect.objectContaining({ statusCode: 406 }),
    );
  });
});

describe('frameOptions (PS3.18 §8.7.3.3)', () => {
  it('defaults to native octet-stream', () => {
    expect(frameOptions(undefined)).toEqual([{ mediaType: 'application/octet-stream', transferSyntax: undefined }]);
  });

  it('keeps the preference order and the part media type of multipart ranges', () => {
    expect(
      frameOptions(
        'multipart/related; type="image/jls"; q=0.5, multipart/related; type="application/octet-stream"; transfer-syntax=*',
      ),
    ).toEqual([
      { mediaType: 'application/octet-stream', transferSyntax: '*' },
      { mediaType: 'image/jls', transferSyntax: undefined },
    ]);
  });
});

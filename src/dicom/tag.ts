/** A DICOM tag as one 32-bit number: group << 16 | element. */
export type Tag = number;

export const tag = (group: number, element: number): Tag => ((group << 16) | element) >>> 0;
export const groupOf = (t: Tag): number => t >>> 16;
export const elementOf = (t: Tag): number => t & 0xffff;

/** "0010,0010"-free form used by DICOM JSON: 8 upper-case hex digits. */
export const tagToHex = (t: Tag): string => t.toString(16).toUpperCase().padStart(8, '0');

export const parseHexTag = (text: string): Tag | undefined =>
  /^[0-9A-Fa-f]{8}$/.test(text) ? Number.parseInt(text, 16) >>> 0 : undefined;

export const isPrivateTag = (t: Tag): boolean => (groupOf(t) & 1) === 1;

/** Tags the code refers to by name. */
export const Tags = {
  SpecificCharacterSet: tag(0x0008, 0x0005),
  SOPClassUID: tag(0x0008, 0x0016),
  SOPInstanceUID: tag(0x0008, 0x0018),
  QueryRetrieveLevel: tag(0x0008, 0x0052),
  RetrieveURL: tag(0x0008, 0x1190),
  PatientName: tag(0x0010, 0x0010),
  PatientID: tag(0x0010, 0x0020),
  StudyInstanceUID: tag(0x0020, 0x000d),
  SeriesInstanceUID: tag(0x0020, 0x000e),
  SeriesNumber: tag(0x0020, 0x0011),
  InstanceNumber: tag(0x0020, 0x0013),
  SamplesPerPixel: tag(0x0028, 0x0002),
  PhotometricInterpretation: tag(0x0028, 0x0004),
  PlanarConfiguration: tag(0x0028, 0x0006),
  NumberOfFrames: tag(0x0028, 0x0008),
  Rows: tag(0x0028, 0x0010),
  Columns: tag(0x0028, 0x0011),
  BitsAllocated: tag(0x0028, 0x0100),
  BitsStored: tag(0x0028, 0x0101),
  HighBit: tag(0x0028, 0x0102),
  PixelRepresentation: tag(0x0028, 0x0103),
  LossyImageCompression: tag(0x0028, 0x2110),
  LossyImageCompressionRatio: tag(0x0028, 0x2112),
  LossyImageCompressionMethod: tag(0x0028, 0x2114),
  ExtendedOffsetTable: tag(0x7fe0, 0x0001),
  ExtendedOffsetTableLengths: tag(0x7fe0, 0x0002),
  FloatPixelData: tag(0x7fe0, 0x0008),
  DoubleFloatPixelData: tag(0x7fe0, 0x0009),
  PixelData: tag(0x7fe0, 0x0010),
  Item: tag(0xfffe, 0xe000),
  ItemDelimitation: tag(0xfffe, 0xe00d),
  SequenceDelimitation: tag(0xfffe, 0xe0dd),
} as const;

/** The pixel data elements (PS3.3 C.7.6.3): an image has one of them; in metadata each is always a BulkDataURI. */
export const PIXEL_DATA_TAGS: ReadonlySet<Tag> = new Set([
  Tags.PixelData,
  Tags.FloatPixelData,
  Tags.DoubleFloatPixelData,
]);

import { attributeByKeyword } from './dictionary.js';
import type { Tag } from './tag.js';

/** C-FIND Query/Retrieve Levels of the Study Root information model (PS3.4 §C.6.2). */
export type QueryLevel = 'STUDY' | 'SERIES' | 'IMAGE';

const tagsOf = (keywords: readonly string[]): Tag[] =>
  keywords.map((k) => {
    const info = attributeByKeyword(k);
    if (!info) throw new Error(`dictionary lacks ${k}`);
    return info.tag;
  });

/** Default Study attributes of a QIDO-RS response (PS3.18 Table 10.6.3-3), less Retrieve URL which we compute. */
const STUDY_DEFAULTS = [
  'SpecificCharacterSet',
  'StudyDate',
  'StudyTime',
  'AccessionNumber',
  'InstanceAvailability',
  'ModalitiesInStudy',
  'ReferringPhysicianName',
  'TimezoneOffsetFromUTC',
  'PatientName',
  'PatientID',
  'PatientBirthDate',
  'PatientSex',
  'StudyInstanceUID',
  'StudyID',
  'NumberOfStudyRelatedSeries',
  'NumberOfStudyRelatedInstances',
];

/** Default Series attributes (PS3.18 Table 10.6.3-4); Request Attributes Sequence is added with its two items. */
const SERIES_DEFAULTS = [
  'SpecificCharacterSet',
  'Modality',
  'TimezoneOffsetFromUTC',
  'SeriesDescription',
  'SeriesInstanceUID',
  'SeriesNumber',
  'NumberOfSeriesRelatedInstances',
  'PerformedProcedureStepStartDate',
  'PerformedProcedureStepStartTime',
];

/** Default Instance attributes (PS3.18 Table 10.6.3-5). */
const INSTANCE_DEFAULTS = [
  'SpecificCharacterSet',
  'SOPClassUID',
  'SOPInstanceUID',
  'InstanceAvailability',
  'TimezoneOffsetFromUTC',
  'InstanceNumber',
  'Rows',
  'Columns',
  'BitsAllocated',
  'NumberOfFrames',
];

/** Patient and study level keys of the Study Root model (PS3.4 §C.6.2.1.2 with Table C.6-1/C.6-2). */
const STUDY_LEVEL = [
  ...STUDY_DEFAULTS,
  'IssuerOfPatientID',
  'PatientBirthTime',
  'OtherPatientIDsSequence',
  'OtherPatientNames',
  'PatientBirthName',
  'PatientAge',
  'PatientSize',
  'PatientWeight',
  'PatientMotherBirthName',
  'EthnicGroup',
  'Occupation',
  'AdditionalPatientHistory',
  'PatientComments',
  'NumberOfPatientRelatedStudies',
  'NumberOfPatientRelatedSeries',
  'NumberOfPatientRelatedInstances',
  'StudyDescription',
  'ProcedureCodeSequence',
  'NameOfPhysiciansReadingStudy',
  'AdmittingDiagnosesDescription',
  'SOPClassesInStudy',
  'AnatomicRegionsInStudyCodeSequence',
  'AdmissionID',
  'PhysiciansOfRecord',
  'IssuerOfAccessionNumberSequence',
  'IssuerOfPatientIDQualifiersSequence',
];

/** Series level keys (PS3.4 Table C.6-3 and common optional keys). */
const SERIES_LEVEL = [
  ...SERIES_DEFAULTS,
  'SeriesDate',
  'SeriesTime',
  'BodyPartExamined',
  'Laterality',
  'RequestAttributesSequence',
  'InstitutionName',
  'StationName',
  'InstitutionalDepartmentName',
  'PerformingPhysicianName',
  'OperatorsName',
  'Manufacturer',
  'ManufacturerModelName',
  'ProtocolName',
  'PatientPosition',
  'SmallestPixelValueInSeries',
  'LargestPixelValueInSeries',
];

/** Instance level keys requested for includefield=all (PS3.4 Table C.6-4 and common optional keys). */
const INSTANCE_LEVEL = [
  ...INSTANCE_DEFAULTS,
  'ContentDate',
  'ContentTime',
  'ImageType',
  'AcquisitionNumber',
  'SamplesPerPixel',
  'PhotometricInterpretation',
  'BitsStored',
  'ImageComments',
  'ContentLabel',
  'ContentDescription',
  'PresentationCreationDate',
  'PresentationCreationTime',
  'ContentCreatorName',
  'ConceptNameCodeSequence',
  'ReferencedRequestSequence',
  'CompletionFlag',
  'VerificationFlag',
  'AcquisitionDateTime',
  'SliceLocation',
  'SliceThickness',
  'ImagePositionPatient',
  'ImageOrientationPatient',
];

export const DEFAULT_RETURN_KEYS: Readonly<Record<QueryLevel, readonly Tag[]>> = {
  STUDY: tagsOf(STUDY_DEFAULTS),
  SERIES: tagsOf(SERIES_DEFAULTS),
  IMAGE: tagsOf(INSTANCE_DEFAULTS),
};

/** What `includefield=all` asks for at each level (PS3.18 §10.6.3.3: all attributes of the level we support). */
export const ALL_RETURN_KEYS: Readonly<Record<QueryLevel, readonly Tag[]>> = {
  STUDY: tagsOf(STUDY_LEVEL),
  SERIES: tagsOf(SERIES_LEVEL),
  IMAGE: tagsOf(INSTANCE_LEVEL),
};

const studyLevel: ReadonlySet<Tag> = new Set(tagsOf(STUDY_LEVEL));
const seriesLevel: ReadonlySet<Tag> = new Set(tagsOf(SERIES_LEVEL));
/** Attributes present at every level (PS3.4 §C.6.1.1.1, C.3.4). */
const everyLevel: ReadonlySet<Tag> = new Set(
  tagsOf(['SpecificCharacterSet', 'TimezoneOffsetFromUTC', 'InstanceAvailability', 'QueryRetrieveLevel']),
);

/** The Study Root level an attribute belongs to; unknown attributes are taken to be instance-level. */
export function levelOf(t: Tag): QueryLevel | 'ANY' {
  if (everyLevel.has(t)) return 'ANY';
  if (studyLevel.has(t)) return 'STUDY';
  if (seriesLevel.has(t)) return 'SERIES';
  return 'IMAGE';
}

export const LEVEL_RANK: Readonly<Record<QueryLevel, number>> = { STUDY: 0, SERIES: 1, IMAGE: 2 };

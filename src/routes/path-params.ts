import { Errors } from '../errors.js';
import type { RetrieveScope } from '../archive/archive.js';
import { pathUid } from './qido-params.js';
import { uidNonConformance } from '../dicom/uid.js';
import { addWarnings } from './multipart-stream.js';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The UIDs of a WADO-RS or rendered resource path. */
export interface UidParams {
  study: string;
  series?: string;
  instance?: string;
}

/** The study, series and instance a path names, each UID validated (400 naming the bad one). */
export function retrieveScope(params: UidParams): RetrieveScope {
  return {
    study: pathUid('StudyInstanceUID', params.study),
    ...(params.series !== undefined ? { series: pathUid('SeriesInstanceUID', params.series) } : {}),
    ...(params.instance !== undefined ? { instance: pathUid('SOPInstanceUID', params.instance) } : {}),
  };
}

/** The instance an instance-level path names (its route declares all three UIDs). */
export function instanceScope(params: UidParams): Required<RetrieveScope> {
  const scope = retrieveScope(params);
  if (!scope.series || !scope.instance)
    throw Errors.badPathSegment('instances', 'an instance path names a study, a series and an instance');
  return { study: scope.study, series: scope.series, instance: scope.instance };
}

/** Frame numbers of a path (PS3.18 §10.4.1.1.4, §8.3.5.1.2): 1-based, comma-separated, in the order given. */
export function frameNumbers(list: string): number[] {
  const numbers = list.split(',').map((s) => s.trim());
  if (numbers.some((n) => !/^[1-9]\d{0,8}$/.test(n)))
    throw Errors.badPathSegment('frames', `"${list}" is not a comma-separated list of frame numbers (1-based)`);
  return numbers.map(Number);
}

const PATH_UIDS = [
  ['study', 'StudyInstanceUID'],
  ['series', 'SeriesInstanceUID'],
  ['instance', 'SOPInstanceUID'],
] as const;

/**
 * A preHandler: a path UID that can be one but does not conform (a leading zero) is served, with a 299 Warning
 * saying so — an archive may hold it, and the client may want to know why another system refuses it.
 */
export async function warnNonConformantUids(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const params = (request.params ?? {}) as Partial<Record<string, string>>;
  addWarnings(
    reply,
    PATH_UIDS.flatMap(([key, name]) => {
      const uid = params[key];
      const why = uid === undefined ? undefined : uidNonConformance(uid);
      return why && uid ? [`${name} ${uid} ${why}`] : [];
    }),
  );
}

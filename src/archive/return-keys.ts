import {
  ALL_RETURN_KEYS,
  DEFAULT_RETURN_KEYS,
  LEVEL_RANK,
  levelOf,
  type QueryLevel,
} from '../dicom/query-attributes.js';
import type { Tag } from '../dicom/tag.js';
import type { SearchRequest } from './archive.js';

/**
 * What a search returns, level by level (PS3.18 §10.6.3.3): the target level's defaults (or all with
 * includefield=all); the defaults of the higher levels when the path does not scope them (Table 10.6.3-2);
 * includefield attributes at the target level or above (lower ones are not returned).
 */
export function returnKeysByLevel(
  request: Pick<SearchRequest, 'level' | 'studyUid' | 'seriesUid' | 'includes' | 'includeAll'>,
): Record<QueryLevel, Tag[][]> {
  const target = request.level;
  const out: Record<QueryLevel, Tag[][]> = { STUDY: [], SERIES: [], IMAGE: [] };
  const defaults = request.includeAll ? ALL_RETURN_KEYS : DEFAULT_RETURN_KEYS;
  for (const t of defaults[target]) out[target].push([t]);
  const parents: QueryLevel[] = [];
  if (target === 'SERIES' && !request.studyUid) parents.push('STUDY');
  if (target === 'IMAGE' && !request.studyUid) parents.push('STUDY', 'SERIES');
  if (target === 'IMAGE' && request.studyUid && !request.seriesUid) parents.push('SERIES');
  for (const l of parents) for (const t of defaults[l]) out[l].push([t]);
  for (const path of request.includes) {
    const l = levelOf(path[0] as Tag);
    const level = l === 'ANY' ? target : l;
    if (LEVEL_RANK[level] <= LEVEL_RANK[target]) out[level].push(path);
  }
  return out;
}

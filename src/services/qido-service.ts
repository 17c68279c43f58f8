import { Tags, tagToHex } from '../dicom/tag.js';
import type { DicomJsonObject } from '../dicom/json-model.js';
import type { Archive, SearchRequest, SearchMatch } from '../archive/archive.js';

/** A QIDO-RS search (PS3.18 §10.6), as the routes hand it over. */
export interface QidoRequest extends SearchRequest {
  /** Parameters received but not applied, explained for 299 Warnings. */
  warnings: string[];
}

export interface QidoSearch {
  /** Matches after offset, at most `limit`, as DICOM JSON with RetrieveURL, attributes in tag order. */
  readonly matches: AsyncGenerator<DicomJsonObject, void, undefined>;
  /** Grows while the search runs (fuzzy matching refused, fan-out capped); read it when answering. */
  readonly warnings: string[];
  /** True once more than offset+limit matches were seen (final after `matches` ends). */
  readonly truncated: boolean;
  /** Resolves when no Warning can come any more (see SearchResults). */
  readonly settled?: Promise<void>;
}

/** Builds the RetrieveURL (0008,1190) of a match from its UIDs. */
export type RetrieveUrlBuilder = (uids: SearchMatch['uids']) => string;

const RETRIEVE_URL = tagToHex(Tags.RetrieveURL);

/**
 * QIDO-RS (PS3.18 §10.6) over the tenant's archive: the archive finds the matches; this adds what the response
 * needs around them — each match's RetrieveURL (§10.6.3.3) and the warnings about what was not applied.
 */
export class QidoService {
  constructor(private readonly archive: Archive) {}

  /** `signal`: aborted when the client is gone, so that the archive stops (a C-FIND gets its C-CANCEL) at once. */
  search(request: QidoRequest, retrieveUrl: RetrieveUrlBuilder, signal?: AbortSignal): QidoSearch {
    const { warnings: received, ...search } = request;
    const results = this.archive.search(search, { signal });
    async function* matches(): AsyncGenerator<DicomJsonObject, void, undefined> {
      for await (const match of results.matches) {
        yield sortedByTag({ ...match.json, [RETRIEVE_URL]: { vr: 'UR', Value: [retrieveUrl(match.uids)] } });
      }
    }
    return {
      matches: matches(),
      get warnings() {
        return [...received, ...results.warnings];
      },
      get truncated() {
        return results.truncated;
      },
      ...(results.settled ? { settled: results.settled } : {}),
    };
  }
}

/** DICOM JSON objects list attributes in tag order (PS3.18 F.2 examples; what clients diff against). */
function sortedByTag(json: DicomJsonObject): DicomJsonObject {
  const out: DicomJsonObject = {};
  for (const key of Object.keys(json).sort()) out[key] = json[key] as DicomJsonObject[string];
  return out;
}

import { ArchiveError } from '../../src/archive/archive-error.js';
import { tempDir } from '../../devkit/temp.js';
import type { FastifyInstance } from 'fastify';
import type {
  IncomingDataset,
  StoreStatus,
  Archive,
  ArchivedInstance,
  CatalogInstance,
  HeldInstance,
  InstanceStream,
  RetrieveScope,
  SearchMatch,
  SearchRequest,
  SearchResults,
} from '../../src/archive/archive.js';
import { archivedInstanceOf } from '../../src/archive/archived-instance.js';
import { catalogOf } from '../../src/archive/catalog.js';
import { buildApp, httpSettings, type AppDependencies } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { CodecPool } from '../../src/codecs/codec-pool.js';
import { Audit } from '../../src/audit/audit.js';
import { tenantSettings } from '../../src/tenant-settings.js';
import { QidoService } from '../../src/services/qido-service.js';
import { RenderService } from '../../src/services/render-service.js';
import { WadoService } from '../../src/services/wado-service.js';
import { StowService } from '../../src/services/stow-service.js';
import { ReadBuffers } from '../../src/services/file-body.js';
import { Errors } from '../../src/errors.js';

export interface FakeArchiveContents {
  /** Part 10 files the archive holds (what `open` and `catalog` answer from). */
  files?: readonly string[];
  /** The matches a search finds (before offset/limit), and warnings it adds. */
  matches?: (request: SearchRequest) => SearchMatch[];
  searchWarnings?: readonly string[];
  /** Every call fails with this (an archive that is down). */
  failure?: ArchiveError;
}

const inScope = (scope: RetrieveScope, i: ArchivedInstance): boolean =>
  i.studyInstanceUid === scope.study &&
  (!scope.series || i.seriesInstanceUid === scope.series) &&
  (!scope.instance || i.sopInstanceUid === scope.instance);

/**
 * An archive in memory over files on disk, for unit tests of the services and routes: it records what it was
 * asked and counts the holds still open, so a test can check that every held instance is released.
 */
export class FakeArchive implements Archive {
  readonly name = 'the fake archive';
  readonly searches: SearchRequest[] = [];
  readonly opened: RetrieveScope[] = [];
  private readonly instances: ArchivedInstance[];
  private holds = 0;

  constructor(private readonly contents: FakeArchiveContents = {}) {
    this.instances = (contents.files ?? []).map(archivedInstanceOf);
  }

  /** Holds handed out and not yet released. */
  get openHolds(): number {
    return this.holds;
  }

  search(request: SearchRequest): SearchResults {
    this.searches.push(request);
    const { failure } = this.contents;
    const all = this.contents.matches?.(request) ?? [];
    const state = { truncated: false };
    async function* matches(): AsyncGenerator<SearchMatch, void, undefined> {
      if (failure) throw failure;
      const page = all.slice(request.offset, request.offset + request.limit);
      state.truncated = all.length > request.offset + request.limit;
      yield* page;
    }
    return {
      matches: matches(),
      warnings: this.contents.searchWarnings ?? [],
      get truncated() {
        return state.truncated;
      },
    };
  }

  async open(scope: RetrieveScope): Promise<InstanceStream> {
    this.opened.push(scope);
    if (this.contents.failure) throw this.contents.failure;
    const found = this.instances.filter((i) => inScope(scope, i));
    if (found.length === 0) throw Errors.notFound('not in the fake archive');
    const hold = (instance: ArchivedInstance): HeldInstance => ({
      instance,
      release: this.holdOnce(),
      holdAgain: () => this.holdOnce(),
    });
    return {
      fromCache: true,
      missing: 0,
      failedSubOperations: 0,
      async *[Symbol.asyncIterator]() {
        for (const i of found) yield hold(i);
      },
    };
  }

  async catalog(scope: RetrieveScope): Promise<CatalogInstance[][]> {
    if (this.contents.failure) throw this.contents.failure;
    return catalogOf(this.instances.filter((x) => inScope(scope, x)));
  }

  holdsLocally(): boolean {
    return true;
  }

  /** Takes an instance as an archive would (read to the end, Success): the fake keeps nothing. */
  async storeInstance(incoming: IncomingDataset): Promise<StoreStatus> {
    for await (const _ of incoming.dataset) {
      /* read */
    }
    return { status: 0 };
  }

  async readiness(): Promise<Record<string, unknown>> {
    if (this.contents.failure) throw new ArchiveError('not-ready', this.contents.failure.message, {}, this.name);
    return { fake: true };
  }

  async close(): Promise<void> {}

  private holdOnce(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
    };
  }
}

/** The HTTP app of one default tenant over `archive`, with the default config; `close()` ends it and its codecs. */
export function appOver(
  archive: Archive,
  options: Pick<AppDependencies, 'onRoute'> = {},
): { app: FastifyInstance; close(): Promise<void> } {
  const config = loadConfig({ env: {} });
  const [settings] = tenantSettings(config);
  if (!settings) throw new Error('no default tenant');
  const codecs = new CodecPool({ threads: 1, maxQueue: 16 });
  const render = new RenderService(archive, codecs, {
    renderedCacheBytes: 1 << 20,
    frameCacheBytes: 1 << 20,
    thumbnail: { size: 64, choice: 'middle' },
  });
  const wado = new WadoService(archive, {
    bulkDataThreshold: config.wado.bulkDataThreshold,
    readBuffers: new ReadBuffers(),
    codecs,
  });
  const tenant = {
    id: settings.id,
    basePath: settings.basePath,
    signing: settings.auth,
    archive,
    qido: new QidoService(archive),
    wado,
    stow: new StowService(archive, tempDir('fake-stow-spool')),
    render,
    auth: {
      mode: 'none' as const,
      scope: { base: settings.basePath },
      signingKeys: new Map(),
      maxSignedTtlSeconds: 1,
      apiKeys: [],
      clientCertificates: [],
    },
  };
  const app = buildApp({
    settings: httpSettings(config),
    tenants: [tenant],
    audit: new Audit([]),
    logger: false,
    ...options,
  });
  return {
    app,
    close: async () => {
      await app.close();
      await codecs.close();
    },
  };
}

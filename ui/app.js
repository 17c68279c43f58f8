// The study browser: a small page over the gateway's own DICOMweb API (QIDO-RS, WADO-RS, rendered, thumbnails),
// served by the gateway, asking no other host for anything. No framework; hash routes: #, #study=UID,
// #study=UID&series=UID.

const BASE = document.querySelector('meta[name="dicomweb-base"]').content;
const AUTH_REQUIRED = document.querySelector('meta[name="dicomweb-auth"]').content === 'required';
const PAGE_SIZE = 20;
const CREDENTIAL_KEY = 'dicomweb-gateway.credential';

// Presets for CT (center, width in HU), beside the instance's own windows.
const CT_PRESETS = [
  ['Lung', -600, 1500],
  ['Bone', 400, 1800],
  ['Brain', 40, 80],
  ['Soft tissue', 40, 400],
];
const DOCUMENT_CLASSES = { '1.2.840.10008.5.1.4.1.1.104.1': 'application/pdf' };
const SR_CLASS_PREFIX = '1.2.840.10008.5.1.4.1.1.88.';

const $ = (id) => document.getElementById(id);

// ---- credentials: a capability (dwgcap.…) or a bearer token, for this tab only

function credential() {
  return sessionStorage.getItem(CREDENTIAL_KEY) ?? '';
}

/** A capability in the page's own URL (a link minted with `sign --capability`) is taken, then removed from it. */
function takeCapabilityFromUrl() {
  const url = new URL(location.href);
  const capability = url.searchParams.get('capability');
  if (!capability) return;
  sessionStorage.setItem(CREDENTIAL_KEY, capability);
  url.searchParams.delete('capability');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
}

const isCapability = (value) => value.startsWith('dwgcap.');

function headers(extra = {}) {
  const value = credential();
  return value ? { ...extra, authorization: `Bearer ${value}` } : extra;
}

/** A URL an <img> or a link can load by itself: a capability rides in the query; a bearer token cannot. */
function loadable(url) {
  const value = credential();
  if (!value || !isCapability(value)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}capability=${encodeURIComponent(value)}`;
}

class ApiError extends Error {}

async function api(path, accept = 'application/dicom+json') {
  const res = await fetch(BASE + path, { headers: headers({ accept }) });
  if (res.status === 401 || res.status === 403) {
    $('credentials').hidden = false;
    throw new ApiError(`${res.status}: credentials are needed (or do not cover this)`);
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new ApiError(`${res.status}: ${body.message ?? res.statusText}`);
  }
  return res;
}

const json = async (path) => {
  const res = await api(path);
  return res.status === 204 ? [] : res.json();
};

/** Shows an image resource: by URL when the credential can ride along, else fetched with the header. */
async function showImage(img, path) {
  const value = credential();
  if (!value || isCapability(value)) {
    img.src = loadable(BASE + path);
    return;
  }
  const res = await api(path, 'image/jpeg');
  const previous = img.dataset.objectUrl;
  img.src = img.dataset.objectUrl = URL.createObjectURL(await res.blob());
  if (previous) URL.revokeObjectURL(previous);
}

// ---- DICOM JSON values (PS3.18 §F.2)

const value = (item, tag) => item?.[tag]?.Value?.[0];
const values = (item, tag) => item?.[tag]?.Value ?? [];
const text = (item, tag) => String(value(item, tag) ?? '');

/** A person name for reading, every component group: Yamada^Tarou=山田^太郎 → "Yamada, Tarou = 山田, 太郎". */
function personName(item, tag) {
  const pn = value(item, tag);
  if (!pn) return '';
  return ['Alphabetic', 'Ideographic', 'Phonetic']
    .map((g) => pn[g])
    .filter(Boolean)
    .map((group) => {
      const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group.split('^');
      const rest = [prefix, given, middle].filter(Boolean).join(' ');
      return [family, rest].filter(Boolean).join(', ') + (suffix ? ` ${suffix}` : '');
    })
    .join(' = ');
}

const date = (da) => (/^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : da);
const number = (item, tag) => Number(value(item, tag) ?? 0);

function element(name, attributes = {}, ...children) {
  const el = document.createElement(name);
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined || v === false) continue;
    if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children) el.append(child);
  return el;
}

function setStatus(message) {
  $('status').textContent = message;
}

function failed(err) {
  setStatus(err instanceof ApiError ? err.message : `Something went wrong: ${err.message}`);
}

// ---- the study list, with search and paging

let offset = 0;

function searchQuery() {
  const form = new FormData($('search'));
  const q = new URLSearchParams();
  const name = String(form.get('PatientName') ?? '').trim();
  if (name) q.set('PatientName', /[*?]/.test(name) ? name : `${name}*`);
  for (const key of ['PatientID', 'AccessionNumber', 'ModalitiesInStudy']) {
    const v = String(form.get(key) ?? '').trim();
    if (v) q.set(key, v);
  }
  const [from, to] = ['from', 'to'].map((k) => String(form.get(k) ?? '').replaceAll('-', ''));
  if (from || to) q.set('StudyDate', `${from}-${to}`);
  return q;
}

async function showStudies() {
  const q = searchQuery();
  q.set('limit', String(PAGE_SIZE + 1));
  q.set('offset', String(offset));
  q.set('includefield', '00081030,00201206,00201208');
  setStatus('Searching…');
  try {
    const studies = await json(`/studies?${q}`);
    const more = studies.length > PAGE_SIZE;
    const shown = studies.slice(0, PAGE_SIZE);
    const body = $('studies').tBodies[0];
    body.replaceChildren(...shown.map(studyRow));
    setStatus(shown.length ? `${offset + 1}–${offset + shown.length}${more ? ' and more' : ''}` : 'No study matches.');
    $('previous').disabled = offset === 0;
    $('next').disabled = !more;
    $('page').textContent = `Page ${Math.floor(offset / PAGE_SIZE) + 1}`;
  } catch (err) {
    failed(err);
  }
}

function studyRow(study) {
  const uid = text(study, '0020000D');
  const patient = personName(study, '00100010');
  const description = text(study, '00081030');
  const img = element('img', {
    class: 'thumbnail',
    width: '64',
    height: '64',
    loading: 'lazy',
    alt: `Thumbnail of ${description || 'the study'} of ${patient || 'an unnamed patient'}`,
  });
  void showImage(img, `/studies/${uid}/thumbnail?viewport=64,64`).catch(() => {
    img.alt = 'No thumbnail';
  });
  const open = element('a', { href: `#study=${uid}`, text: patient || '(no name)' });
  const cells = [
    img,
    open,
    text(study, '00100020'),
    date(text(study, '00080020')),
    description,
    values(study, '00080061').join(', '),
    `${number(study, '00201206')} / ${number(study, '00201208')}`,
  ];
  return element('tr', { 'data-study': uid }, ...cells.map((c) => element('td', {}, c)));
}

// ---- a study: its series

async function showStudy(studyUid) {
  try {
    const [study] = await json(`/studies?StudyInstanceUID=${studyUid}&includefield=00081030`);
    $('study-title').textContent = study
      ? `${personName(study, '00100010')} — ${text(study, '00081030') || 'study'} (${date(text(study, '00080020'))})`
      : 'Study';
    const series = (await json(`/studies/${studyUid}/series?includefield=0008103E,00201209`)).sort(
      (a, b) => number(a, '00200011') - number(b, '00200011'),
    );
    $('series').replaceChildren(
      ...series.map((s) => {
        const uid = text(s, '0020000E');
        const label = `${text(s, '00080060')} ${number(s, '00200011')}: ${text(s, '0008103E') || 'series'} (${number(s, '00201209')} images)`;
        const img = element('img', {
          class: 'thumbnail',
          width: '128',
          height: '128',
          loading: 'lazy',
          alt: `Thumbnail of series ${label}`,
        });
        void showImage(img, `/studies/${studyUid}/series/${uid}/thumbnail`).catch(() => {
          img.alt = 'No thumbnail';
        });
        return element(
          'li',
          {},
          element(
            'a',
            { href: `#study=${studyUid}&series=${uid}`, 'data-series': uid },
            img,
            element('span', { text: label }),
          ),
        );
      }),
    );
  } catch (err) {
    $('study-title').textContent = err.message;
  }
}

// ---- a series: one image at a time, window presets, frames

const viewer = { study: '', series: '', instances: [], index: 0, frame: 1, frames: 1, metadata: undefined };

async function showSeries(studyUid, seriesUid) {
  Object.assign(viewer, { study: studyUid, series: seriesUid, index: 0, frame: 1 });
  $('back-to-study').href = `#study=${studyUid}`;
  try {
    const [series] = await json(`/studies/${studyUid}/series?SeriesInstanceUID=${seriesUid}&includefield=0008103E`);
    $('series-title').textContent = series
      ? `${text(series, '00080060')} ${number(series, '00200011')}: ${text(series, '0008103E') || 'series'}`
      : 'Series';
    viewer.instances = (await json(`/studies/${studyUid}/series/${seriesUid}/instances`)).sort(
      (a, b) => number(a, '00200013') - number(b, '00200013'),
    );
    await showInstance(0);
  } catch (err) {
    $('series-title').textContent = err.message;
  }
}

const instancePath = () =>
  `/studies/${viewer.study}/series/${viewer.series}/instances/${text(viewer.instances[viewer.index], '00080018')}`;

async function showInstance(index) {
  viewer.index = Math.max(0, Math.min(index, viewer.instances.length - 1));
  viewer.frame = 1;
  const [metadata] = await json(`${instancePath()}/metadata`);
  viewer.metadata = metadata;
  viewer.frames = Math.max(1, number(metadata, '00280008'));
  $('image-position').textContent = `Image ${viewer.index + 1} of ${viewer.instances.length}`;
  $('image-previous').disabled = viewer.index === 0;
  $('image-next').disabled = viewer.index >= viewer.instances.length - 1;
  $('frame-controls').hidden = viewer.frames <= 1;
  fillWindows(metadata);
  const sopClass = text(metadata, '00080016');
  const documentType = DOCUMENT_CLASSES[sopClass] ?? (sopClass.startsWith(SR_CLASS_PREFIX) ? 'text/html' : undefined);
  const link = $('document');
  link.hidden = !documentType;
  if (documentType)
    link.href = loadable(`${BASE}${instancePath()}/rendered?accept=${encodeURIComponent(documentType)}`);
  await showFrame();
}

function fillWindows(metadata) {
  const select = $('window');
  const own = values(metadata, '00281050').map((c, i) => [
    values(metadata, '00281055')[i] || `Window ${i + 1}`,
    Number(c),
    Number(values(metadata, '00281051')[i]),
  ]);
  const presets = [...own, ...(text(metadata, '00080060') === 'CT' ? CT_PRESETS : [])];
  select.replaceChildren(
    element('option', { value: '', text: own.length ? 'As stored' : 'Full range' }),
    ...presets
      .filter(([, c, w]) => Number.isFinite(c) && w > 0)
      .map(([name, c, w]) => element('option', { value: `${c},${w}`, text: `${name} (C ${c}, W ${w})` })),
  );
}

async function showFrame() {
  viewer.frame = Math.max(1, Math.min(viewer.frame, viewer.frames));
  $('frame-position').textContent = `Frame ${viewer.frame} of ${viewer.frames}`;
  $('frame-previous').disabled = viewer.frame === 1;
  $('frame-next').disabled = viewer.frame === viewer.frames;
  const q = new URLSearchParams({ viewport: '512,512' });
  if ($('window').value) q.set('window', `${$('window').value},linear`);
  if ($('annotate').checked) q.set('annotation', 'patient,technique');
  const path = viewer.frames > 1 ? `${instancePath()}/frames/${viewer.frame}/rendered` : `${instancePath()}/rendered`;
  const img = $('image');
  img.alt = `${$('series-title').textContent}, image ${viewer.index + 1}${viewer.frames > 1 ? `, frame ${viewer.frame}` : ''}`;
  img.dataset.frame = String(viewer.frame);
  try {
    await showImage(img, `${path}?${q}`);
  } catch (err) {
    img.alt = err.message;
  }
}

/** Part 10 download: the instance's single part of a multipart/related WADO-RS answer, as a .dcm file. */
async function download(event) {
  event.preventDefault();
  const res = await api(instancePath(), 'multipart/related; type="application/dicom"');
  const boundary = /boundary="?([^";]+)"?/i.exec(res.headers.get('content-type') ?? '')?.[1];
  const bytes = new Uint8Array(await res.arrayBuffer());
  const find = (needle, from) => {
    outer: for (let i = from; i <= bytes.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  };
  const encode = (s) => new TextEncoder().encode(s);
  const start = find(encode('\r\n\r\n'), find(encode(`--${boundary}`), 0)) + 4;
  const end = find(encode(`\r\n--${boundary}`), start);
  const a = element('a', {
    href: URL.createObjectURL(new Blob([bytes.subarray(start, end)], { type: 'application/dicom' })),
    download: `${text(viewer.metadata, '00080018')}.dcm`,
  });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// ---- routing and wiring

function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  const study = params.get('study');
  const series = params.get('series');
  $('studies-view').hidden = Boolean(study);
  $('study-view').hidden = !study || Boolean(series);
  $('series-view').hidden = !series;
  if (series && study) void showSeries(study, series);
  else if (study) void showStudy(study);
  else void showStudies();
}

function wire() {
  $('where').textContent = `DICOMweb at ${location.origin}${BASE}`;
  $('search').addEventListener('submit', (e) => {
    e.preventDefault();
    offset = 0;
    void showStudies();
  });
  $('search').addEventListener('reset', () => {
    offset = 0;
    setTimeout(showStudies);
  });
  $('previous').addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    void showStudies();
  });
  $('next').addEventListener('click', () => {
    offset += PAGE_SIZE;
    void showStudies();
  });
  $('image-previous').addEventListener('click', () => void showInstance(viewer.index - 1));
  $('image-next').addEventListener('click', () => void showInstance(viewer.index + 1));
  $('frame-previous').addEventListener('click', () => {
    viewer.frame--;
    void showFrame();
  });
  $('frame-next').addEventListener('click', () => {
    viewer.frame++;
    void showFrame();
  });
  $('window').addEventListener('change', () => void showFrame());
  $('annotate').addEventListener('change', () => void showFrame());
  $('download').addEventListener('click', (e) => void download(e).catch(failed));
  document.addEventListener('keydown', (e) => {
    if (
      $('series-view').hidden ||
      e.target instanceof HTMLInputElement ||
      e.target instanceof HTMLSelectElement ||
      e.target instanceof HTMLTextAreaElement
    )
      return;
    const step = {
      ArrowUp: ['image', -1],
      ArrowDown: ['image', 1],
      ArrowLeft: ['frame', -1],
      ArrowRight: ['frame', 1],
    }[e.key];
    if (!step) return;
    e.preventDefault();
    $(`${step[0]}-${step[1] < 0 ? 'previous' : 'next'}`).click();
  });
  $('credentials-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('token').value.trim();
    if (value) sessionStorage.setItem(CREDENTIAL_KEY, value);
    $('token').value = '';
    $('credentials').hidden = true;
    route();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(CREDENTIAL_KEY);
    $('credentials').hidden = false;
  });
  window.addEventListener('hashchange', route);
}

takeCapabilityFromUrl();
$('credentials').hidden = !AUTH_REQUIRED || Boolean(credential());
wire();
route();

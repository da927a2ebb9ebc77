// The GanInference playground: calls the server's own REST surface (gan.v1 as JSON, /v1/...) and /metrics.
// No framework and no build step: this file, latent.js and metrics.js are what the browser runs.
import { latent, walk } from './latent.js';
import { parsePrometheus, snapshot, rates, colour, drawChart } from './metrics.js';

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = 'gan-api-key';
const REQUEST_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------------------------------------------
// Calls: every call carries the API key once one is known; a 401 asks for it and tries again.

class ApiError extends Error {
  constructor(message, { status = 0, code = null, field = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let keyPrompt = null;

/** Shows the key dialog (once, however many calls are waiting) and resolves with the key, or null when cancelled. */
function askForKey(reason) {
  if (keyPrompt) {
    return keyPrompt;
  }
  const dialog = $('key-dialog');
  const input = $('key-input');
  $('key-error').textContent = reason ?? '';
  input.setAttribute('aria-invalid', reason ? 'true' : 'false');
  input.value = '';
  keyPrompt = new Promise((resolve) => {
    const finish = (key) => {
      $('key-form').removeEventListener('submit', onSubmit);
      $('key-cancel').removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      dialog.close();
      keyPrompt = null;
      resolve(key);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (key === '') {
        $('key-error').textContent = 'Type the key first.';
        input.setAttribute('aria-invalid', 'true');
        return;
      }
      finish(key);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(null);
    };
    $('key-form').addEventListener('submit', onSubmit);
    $('key-cancel').addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
  });
  dialog.showModal();
  input.focus();
  return keyPrompt;
}

/** fetch with the key, a timeout, and errors turned into ApiError with the server's own message. */
async function api(path, { method = 'GET', body = undefined, as = 'json' } = {}) {
  let reason = null;
  for (;;) {
    const headers = {};
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) {
      headers.authorization = `Bearer ${key}`;
    }
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: abort.signal, cache: 'no-store' });
      if (response.status === 401) {
        const refusal = await readError(response);
        const entered = await askForKey(key ? `${refusal.message} Try another key.` : reason);
        if (entered === null) {
          throw new ApiError('This server needs an API key; none was given.', { status: 401 });
        }
        sessionStorage.setItem(KEY_STORAGE, entered);
        reason = null;
        continue;
      }
      if (!response.ok) {
        throw await readError(response);
      }
      return as === 'json' ? await response.json() : as === 'text' ? await response.text() : await response.blob();
    } catch (error) {
      if (error instanceof ApiError) {
        throw error;
      }
      if (error.name === 'AbortError') {
        throw new ApiError(`The server did not answer within ${REQUEST_TIMEOUT_MS / 1000} s; the request was given up.`);
      }
      // fetch rejects with a TypeError when the connection fails or closes: the server is gone or unreachable.
      throw new ApiError(`The server did not answer (${error.message}): it may have stopped or restarted. Try again when it is back.`);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The server's error as ApiError: gan.v1 JSON errors are { code, message }, the key check's { error }. */
async function readError(response) {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // The body was cut off; the status is all there is.
  }
  let message = `${response.status} ${response.statusText}`;
  let code = null;
  try {
    const json = JSON.parse(text);
    message = json.message ?? json.error ?? message;
    code = json.code ?? null;
  } catch {
    if (text.trim() !== '') {
      message = text.trim().slice(0, 500);
    }
  }
  const field = /^([a-zA-Z_]+)(\[\d+\])?[:\s]/.exec(message)?.[1] ?? null;
  return new ApiError(message, { status: response.status, code, field });
}

// ---------------------------------------------------------------------------------------------------------------
// Errors next to the control that caused them.

function showError(id, message) {
  const element = $(`${id}-error`);
  element.textContent = message ?? '';
  const control = $(id);
  if (control && 'setAttribute' in control) {
    control.setAttribute('aria-invalid', message ? 'true' : 'false');
  }
}

function clearErrors(form) {
  for (const element of form.querySelectorAll('.error')) {
    element.textContent = '';
  }
  for (const element of form.querySelectorAll('[aria-invalid]')) {
    element.setAttribute('aria-invalid', 'false');
  }
}

/** Puts a server error next to the control its field names; anything else next to the button. */
function showApiError(error, fieldControls, fallback) {
  const control = (error.field && fieldControls[error.field]) || fallback;
  showError(control, error.message);
}

function busy(button, status, text) {
  button.disabled = text !== null;
  $(status).textContent = text ?? '';
}

// ---------------------------------------------------------------------------------------------------------------
// Models

let models = [];
let modelsLoaded = null;
let limits = null;

async function loadModels() {
  const status = $('models-status');
  try {
    limits ??= await api('playground/config.json');
    const answer = await api('v1/models');
    models = answer.models ?? [];
    $('connection-error').hidden = true;
  } catch (error) {
    models = [];
    status.textContent = '';
    $('connection-error').textContent = `Could not list the models: ${error.message}`;
    $('connection-error').hidden = false;
    fillSelects();
    return;
  }
  status.textContent = models.length === 0
    ? 'This server serves no models: its model folder (Models:Path) is empty, or no model in it loaded (the server log says why).'
    : `${models.length} models.`;
  renderModels();
  fillSelects();
}

const KIND_NAMES = {
  UNCONDITIONAL: 'unconditional',
  CLASS_CONDITIONAL: 'class-conditional',
  TEXT_CONDITIONAL: 'text-conditional',
  IMAGE_TO_IMAGE: 'image-to-image',
};

function kindOf(model) {
  return model.kind ?? 'MODEL_KIND_UNSPECIFIED';
}

function renderModels() {
  const list = $('models-list');
  list.replaceChildren();
  for (const model of models) {
    const card = document.createElement('article');
    card.className = 'card';
    card.dataset.model = model.name;
    const title = document.createElement('h3');
    title.textContent = model.name;
    card.append(title);
    const description = document.createElement('p');
    description.textContent = model.description ?? '';
    card.append(description);

    const facts = document.createElement('dl');
    const add = (term, value) => {
      if (value === undefined || value === null || value === '') {
        return;
      }
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      facts.append(dt, dd);
    };
    add('Kind', KIND_NAMES[kindOf(model)] ?? kindOf(model));
    add('Size', `${model.width ?? 0}×${model.height ?? 0}, ${model.channels === 3 ? 'RGB' : model.channels === 1 ? 'grey' : `${model.channels ?? 0} channels`}`);
    if (model.latentDim) {
      add('Latent', `${model.latentDim} values; default truncation ${model.defaultTruncation ?? 0}`);
    }
    if (model.classes?.length) {
      add('Classes', model.classes.join(', '));
    }
    if (model.vocabulary?.length) {
      add('Vocabulary', `${model.vocabulary.length - 1} words, up to ${model.maxTextTokens} a caption`);
    }
    if (model.pipelineSteps?.length) {
      add('Pipeline', model.pipelineSteps.join(' → '));
    }
    const b = model.batching;
    add('Batching', b && `up to ${b.maxBatchSize ?? '?'} a batch, waits ${b.maxQueueDelayMs ?? 0} ms, queue ${b.maxQueueSize ?? '?'}${b.preferredBatchSizes?.length ? `, preferred ${b.preferredBatchSizes.join('/')}` : ''}`);
    add('Runs on', model.executionProvider);
    add('Weights', model.contentHash);
    card.append(facts);

    const provenance = model.provenance ?? {};
    if (provenance.metrics && typeof provenance.metrics === 'object') {
      const quality = document.createElement('details');
      quality.innerHTML = '<summary>Quality figures</summary>';
      quality.append(table(provenance.metrics));
      card.append(quality);
    }
    const rest = Object.fromEntries(Object.entries(provenance).filter(([k]) => k !== 'metrics'));
    if (model.vocabulary?.length) {
      const words = document.createElement('details');
      words.innerHTML = '<summary>Vocabulary</summary>';
      const list = document.createElement('p');
      list.className = 'vocabulary';
      list.textContent = model.vocabulary.slice(1).join(' ');
      words.append(list);
      card.append(words);
    }
    if (Object.keys(rest).length) {
      const origin = document.createElement('details');
      origin.innerHTML = '<summary>Provenance</summary>';
      origin.append(table(rest));
      card.append(origin);
    }

    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.alt = `Samples of ${model.name}`;
    img.className = 'samples';
    const caption = document.createElement('figcaption');
    caption.textContent = 'samples.png';
    figure.append(img, caption);
    card.append(figure);
    api(`playground/samples/${encodeURIComponent(model.name)}.png`, { as: 'blob' })
      .then((blob) => { img.src = URL.createObjectURL(blob); })
      .catch((error) => { caption.textContent = error.status === 404 ? 'no samples.png in its folder' : `samples.png: ${error.message}`; });
    list.append(card);
  }
}

function table(object) {
  const t = document.createElement('table');
  for (const [key, value] of Object.entries(object)) {
    const row = t.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = key;
    const td = row.insertCell();
    td.textContent = typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
    row.prepend(th);
  }
  return t;
}

function fillSelects() {
  const fill = (id, kinds, none) => {
    const select = $(id);
    const previous = select.value;
    select.replaceChildren();
    for (const model of models.filter((m) => kinds.includes(kindOf(m)))) {
      const option = document.createElement('option');
      option.value = model.name;
      option.textContent = `${model.name} (${KIND_NAMES[kindOf(model)]})`;
      select.append(option);
    }
    if ([...select.options].some((o) => o.value === previous)) {
      select.value = previous;
    }
    showError(id, select.options.length === 0 ? none : null);
  };
  fill('gen-model', ['UNCONDITIONAL', 'CLASS_CONDITIONAL'], 'The server serves no unconditional or class-conditional model, so there is nothing to generate from.');
  fill('text-model', ['TEXT_CONDITIONAL'], 'The server serves no text-conditional model.');
  fill('tr-model', ['IMAGE_TO_IMAGE'], 'The server serves no image-to-image model.');
  onGenerateModel();
  onTextModel();
  onTranslateModel();
}

const modelNamed = (name) => models.find((m) => m.name === name);

// ---------------------------------------------------------------------------------------------------------------
// Images from the replies

function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/** An object URL for one GeneratedImage / TranslatedImage of any format (RAW_U8 drawn to a PNG here). */
async function imageUrl(image) {
  const bytes = base64ToBytes(image.data ?? '');
  const format = image.format ?? 'PNG';
  if (format === 'PNG' || format === 'JPEG') {
    return URL.createObjectURL(new Blob([bytes], { type: format === 'PNG' ? 'image/png' : 'image/jpeg' }));
  }
  const width = image.width;
  const height = image.height;
  const channels = image.channels;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d');
  const pixels = g.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const at = i * channels;
    pixels.data[i * 4] = bytes[at];
    pixels.data[i * 4 + 1] = bytes[channels === 3 ? at + 1 : at];
    pixels.data[i * 4 + 2] = bytes[channels === 3 ? at + 2 : at];
    pixels.data[i * 4 + 3] = 255;
  }
  g.putImageData(pixels, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  return URL.createObjectURL(blob);
}

const extension = (format) => (format === 'JPEG' ? 'jpg' : 'png');

async function renderImages(container, images, describe, onPick) {
  for (const old of container.querySelectorAll('img')) {
    URL.revokeObjectURL(old.src);
  }
  container.replaceChildren();
  container.style.setProperty('--columns', String(Math.max(1, Math.ceil(Math.sqrt(images.length)))));
  for (const image of images) {
    const url = await imageUrl(image);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'tile';
    const img = document.createElement('img');
    img.src = url;
    img.alt = describe(image);
    img.dataset.index = String(image.index ?? 0);
    if (image.seed !== undefined) {
      img.dataset.seed = String(image.seed);
    }
    if (image.label !== undefined) {
      img.dataset.label = String(image.label);
    }
    button.setAttribute('aria-label', describe(image));
    button.append(img);
    if (onPick) {
      button.addEventListener('click', () => onPick(image, url));
    }
    container.append(button);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Generate and the latent walk

const MAX_SEED = (1n << 64n) - 1n;

function parseSeed(text, what) {
  const trimmed = String(text).trim();
  if (!/^\d+$/.test(trimmed) || BigInt(trimmed) > MAX_SEED) {
    throw new ApiError(`${what}: '${trimmed}' is not a seed (a whole number from 0 to 18446744073709551615)`);
  }
  return BigInt(trimmed);
}

function truncationValue(id) {
  return Number($(id).value);
}

function onGenerateModel() {
  const model = modelNamed($('gen-model').value);
  const conditional = model && kindOf(model) === 'CLASS_CONDITIONAL';
  $('gen-labels-field').hidden = !conditional;
  $('walk-label-field').hidden = !conditional;
  $('gen-classes').textContent = conditional ? model.classes.map((c, i) => `${i} = ${c}`).join(', ') : '';
  $('walk-label').max = conditional ? String(model.classes.length - 1) : '0';
  $('gen-submit').disabled = !model;
  $('walk-submit').disabled = !model;
}

function generateRequest() {
  const model = modelNamed($('gen-model').value);
  if (!model) {
    throw Object.assign(new ApiError('Choose a model first.'), { control: 'gen-model' });
  }
  const request = { format: $('gen-format').value };
  if ($('gen-seed-mode-list').checked) {
    const parts = $('gen-seeds').value.split(/[\s,]+/).filter((s) => s !== '');
    if (parts.length === 0) {
      throw Object.assign(new ApiError('Give at least one seed.'), { control: 'gen-seed' });
    }
    try {
      request.seeds = parts.map((s) => parseSeed(s, 'seeds').toString());
    } catch (error) {
      throw Object.assign(error, { control: 'gen-seed' });
    }
  } else {
    try {
      request.seed = parseSeed($('gen-seed').value, 'first seed').toString();
    } catch (error) {
      throw Object.assign(error, { control: 'gen-seed' });
    }
    const count = Number($('gen-count').value);
    const max = limits?.maxImagesPerRequest ?? 1024;
    if (!Number.isInteger(count) || count < 1 || count > max) {
      throw Object.assign(new ApiError(`count: ${$('gen-count').value} must be a whole number from 1 to ${max} (${limits?.maxImagesPerRequestKey ?? 'Limits:MaxImagesPerRequest'})`), { control: 'gen-seed' });
    }
    request.count = count;
  }
  if (kindOf(model) === 'CLASS_CONDITIONAL' && $('gen-labels').value.trim() !== '') {
    const labels = $('gen-labels').value.split(/[\s,]+/).filter((s) => s !== '').map(Number);
    const bad = labels.find((l) => !Number.isInteger(l) || l < 0 || l >= model.classes.length);
    if (bad !== undefined) {
      throw Object.assign(new ApiError(`labels: ${bad} is not a class of ${model.name} (0 to ${model.classes.length - 1})`), { control: 'gen-labels' });
    }
    request.labels = labels;
  }
  const truncation = truncationValue('gen-truncation');
  if (truncation > 0) {
    request.truncation = truncation;
  }
  return { model, request };
}

const GENERATE_FIELDS = { truncation: 'gen-truncation', labels: 'gen-labels', seeds: 'gen-seed', seed: 'gen-seed', count: 'gen-seed', format: 'gen-format', model: 'gen-model' };

async function onGenerate(event) {
  event.preventDefault();
  const form = $('generate-form');
  clearErrors(form);
  let model;
  let request;
  try {
    ({ model, request } = generateRequest());
  } catch (error) {
    showError(error.control ?? 'gen-submit', error.message);
    return;
  }
  busy($('gen-submit'), 'gen-status', 'Generating…');
  $('gen-detail').hidden = true;
  try {
    const started = performance.now();
    const answer = await api(`v1/models/${encodeURIComponent(model.name)}:generate`, { method: 'POST', body: request });
    const images = answer.images ?? [];
    await renderImages($('gen-grid'), images, (i) => `Seed ${i.seed ?? '—'}${i.label !== undefined ? `, label ${i.label}` : ''}`, (image, url) => showDetail(model, image, url));
    busy($('gen-submit'), 'gen-status', null);
    $('gen-status').textContent = `${images.length} images from ${answer.model} in ${Math.round(performance.now() - started)} ms (weights ${answer.contentHash}).`;
  } catch (error) {
    busy($('gen-submit'), 'gen-status', null);
    showApiError(error, GENERATE_FIELDS, 'gen-submit');
  }
}

function showDetail(model, image, url) {
  const detail = $('gen-detail');
  detail.hidden = false;
  $('gen-detail-image').src = url;
  $('gen-detail-image').alt = `Seed ${image.seed}`;
  const label = image.label !== undefined ? `, label ${image.label}${model.classes?.[image.label] !== undefined ? ` (${model.classes[image.label]})` : ''}` : '';
  $('gen-detail-text').textContent = `${model.name}: seed ${image.seed ?? '(explicit latent)'}${label}, ${image.width}×${image.height}, index ${image.index ?? 0}.`;
  const download = $('gen-detail-download');
  download.href = url;
  download.download = `${model.name}-seed${image.seed ?? `latent${image.index ?? 0}`}${image.label !== undefined ? `-label${image.label}` : ''}.${extension(image.format ?? 'PNG')}`;
}

const WALK_FIELDS = { latents: 'walk-seeds', labels: 'walk-label', truncation: 'gen-truncation', format: 'gen-format', model: 'gen-model' };

async function onWalk(event) {
  event.preventDefault();
  const form = $('walk-form');
  clearErrors(form);
  const model = modelNamed($('gen-model').value);
  if (!model) {
    showError('walk-submit', 'Choose a model above first.');
    return;
  }
  let from;
  let to;
  try {
    from = parseSeed($('walk-from').value, 'from seed');
    to = parseSeed($('walk-to').value, 'to seed');
  } catch (error) {
    showError('walk-seeds', error.message);
    return;
  }
  const steps = Number($('walk-steps').value);
  if (!Number.isInteger(steps) || steps < 2 || steps > 64) {
    showError('walk-seeds', `steps: ${$('walk-steps').value} must be a whole number from 2 to 64`);
    return;
  }
  const request = { format: $('gen-format').value };
  if (kindOf(model) === 'CLASS_CONDITIONAL') {
    const label = Number($('walk-label').value);
    if (!Number.isInteger(label) || label < 0 || label >= model.classes.length) {
      showError('walk-label', `label: ${$('walk-label').value} is not a class of ${model.name} (0 to ${model.classes.length - 1})`);
      return;
    }
    request.labels = [label];
  }
  // The seeds' latents at the truncation the server would use for them (0 on the slider: the model's default).
  const truncation = truncationValue('gen-truncation') > 0 ? truncationValue('gen-truncation') : (model.defaultTruncation ?? 0);
  const path = walk(latent(from, model.latentDim, truncation), latent(to, model.latentDim, truncation), steps);
  request.latents = path.flatMap((z) => Array.from(z));
  busy($('walk-submit'), 'walk-status', 'Walking…');
  try {
    const answer = await api(`v1/models/${encodeURIComponent(model.name)}:generate`, { method: 'POST', body: request });
    const images = answer.images ?? [];
    await renderImages($('walk-strip'), images, (i) => `Step ${(i.index ?? 0) + 1} of ${steps}`);
    $('walk-strip').style.setProperty('--columns', String(Math.min(steps, 8)));
    busy($('walk-submit'), 'walk-status', null);
    $('walk-status').textContent = `${images.length} images from seed ${from} to seed ${to}.`;
  } catch (error) {
    busy($('walk-submit'), 'walk-status', null);
    showApiError(error, WALK_FIELDS, 'walk-submit');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Text

function onTextModel() {
  const model = modelNamed($('text-model').value);
  $('text-vocabulary').textContent = model?.vocabulary?.slice(1).join(' ') ?? '';
  $('text-submit').disabled = !model;
  onCaptionInput();
}

function onCaptionInput() {
  const length = $('text-caption').value.length;
  const max = limits?.maxTextLength;
  $('text-caption-count').textContent = max ? `${length} of at most ${max} characters` : `${length} characters`;
}

const TEXT_FIELDS = { texts: 'text-caption', truncation: 'text-truncation', count: 'text-count', seed: 'text-count', seeds: 'text-count', model: 'text-model' };

async function onText(event) {
  event.preventDefault();
  clearErrors($('text-form'));
  const model = modelNamed($('text-model').value);
  if (!model) {
    showError('text-model', 'Choose a model first.');
    return;
  }
  const caption = $('text-caption').value;
  if (caption.trim() === '') {
    showError('text-caption', 'Type a caption.');
    return;
  }
  const count = Number($('text-count').value);
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    showError('text-count', `images: ${$('text-count').value} must be a whole number from 1 to 64`);
    return;
  }
  let seed;
  try {
    seed = parseSeed($('text-seed').value, 'first seed');
  } catch (error) {
    showError('text-count', error.message);
    return;
  }
  const request = { texts: [caption], count, seed: seed.toString(), format: 'PNG' };
  const truncation = truncationValue('text-truncation');
  if (truncation > 0) {
    request.truncation = truncation;
  }
  busy($('text-submit'), 'text-status', 'Generating…');
  try {
    const answer = await api(`v1/models/${encodeURIComponent(model.name)}:generateFromText`, { method: 'POST', body: request });
    const images = answer.images ?? [];
    await renderImages($('text-grid'), images, (i) => `Seed ${i.seed}`);
    busy($('text-submit'), 'text-status', null);
    $('text-status').textContent = `${images.length} images for “${caption.length > 80 ? `${caption.slice(0, 80)}…` : caption}”.`;
  } catch (error) {
    busy($('text-submit'), 'text-status', null);
    showApiError(error, TEXT_FIELDS, 'text-submit');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Translate

let translateFile = null;

function onTranslateModel() {
  const model = modelNamed($('tr-model').value);
  $('tr-submit').disabled = !model;
  if (!model) {
    $('tr-expects').textContent = '';
    return;
  }
  const colours = model.channels === 3 ? 'RGB' : 'grey';
  const input = (model.inputs ?? []).find((i) => i.role === 'image');
  const shape = input?.shape?.map(Number) ?? [];
  const size = shape.length === 4 ? `${shape[3]}×${shape[2]}, ${Number(shape[1]) === 3 ? 'RGB' : 'grey'}` : 'its input size';
  $('tr-expects').textContent = `${model.name} takes ${size} images (PNG or JPEG) and answers ${model.width}×${model.height} ${colours}. Other sizes are resized and grey/RGB converted (docs/translate.md). ${model.description ?? ''}`;
}

function pickFile(file) {
  clearErrors($('translate-form'));
  translateFile = file ?? null;
  const input = $('tr-input');
  if (input.src) {
    URL.revokeObjectURL(input.src);
  }
  $('tr-output').hidden = true;
  if (!translateFile) {
    input.hidden = true;
    return;
  }
  $('tr-drop').textContent = `${translateFile.name} (${formatBytes(translateFile.size)}); drop or choose another`;
  const max = limits?.maxReceiveMessageBytes;
  // The JSON body carries the file in base64: 4 bytes for every 3, plus a little.
  const sendable = max ? Math.floor(((max - 1024) * 3) / 4) : Infinity;
  if (translateFile.size > sendable) {
    showError('tr-file', `${translateFile.name} is ${formatBytes(translateFile.size)}; this server takes requests up to ${formatBytes(max)} (${limits.maxReceiveMessageBytesKey}), so files up to about ${formatBytes(sendable)}. Choose a smaller image.`);
    translateFile = null;
    input.hidden = true;
    return;
  }
  input.onerror = () => {
    input.hidden = true;
  };
  input.src = URL.createObjectURL(translateFile);
  input.hidden = false;
}

function formatBytes(n) {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`;
}

function bytesToBase64(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const TRANSLATE_FIELDS = { images: 'tr-file', model: 'tr-model' };

async function onTranslate(event) {
  event.preventDefault();
  clearErrors($('translate-form'));
  const model = modelNamed($('tr-model').value);
  if (!model) {
    showError('tr-model', 'Choose a model first.');
    return;
  }
  if (!translateFile) {
    showError('tr-file', 'Choose or drop an image file first.');
    return;
  }
  busy($('tr-submit'), 'tr-status', 'Translating…');
  try {
    const bytes = new Uint8Array(await translateFile.arrayBuffer());
    const request = { images: [{ data: bytesToBase64(bytes), id: translateFile.name }], format: 'PNG' };
    const answer = await api(`v1/models/${encodeURIComponent(model.name)}:translate`, { method: 'POST', body: request });
    const image = answer.images?.[0];
    const output = $('tr-output');
    if (output.src) {
      URL.revokeObjectURL(output.src);
    }
    output.src = await imageUrl(image);
    output.hidden = false;
    busy($('tr-submit'), 'tr-status', null);
    const resized = image.resizedFromWidth ? ` (input resized from ${image.resizedFromWidth}×${image.resizedFromHeight})` : '';
    $('tr-status').textContent = `${translateFile.name} → ${image.width}×${image.height}${resized}.`;
  } catch (error) {
    busy($('tr-submit'), 'tr-status', null);
    showApiError(error, TRANSLATE_FIELDS, error.field ? 'tr-submit' : error.status === 400 || error.status === 413 ? 'tr-file' : 'tr-submit');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Live

const live = { timer: null, previous: null, history: [], paused: false, running: false };

async function pollMetrics() {
  if (live.running) {
    return;
  }
  live.running = true;
  try {
    const text = await api('metrics', { as: 'text' });
    const current = snapshot(parsePrometheus(text), Date.now());
    if (live.previous) {
      live.history.push({ time: current.time, points: rates(live.previous, current) });
    }
    live.previous = current;
    const windowMs = Math.max(1, Number($('live-window').value) || 5) * 60_000;
    while (live.history.length && live.history[0].time < current.time - windowMs) {
      live.history.shift();
    }
    showError('live', null);
    $('live-status').textContent = `Updated ${new Date(current.time).toLocaleTimeString()}; ${live.history.length} points.`;
    renderLive(current.time, windowMs);
  } catch (error) {
    showError('live', `Could not read metrics: ${error.message}`);
  } finally {
    live.running = false;
  }
}

function renderLive(now, windowMs) {
  const names = new Set();
  for (const entry of live.history) {
    for (const name of entry.points.keys()) {
      names.add(name);
    }
  }
  const latest = live.history[live.history.length - 1]?.points ?? new Map();
  const body = $('live-table').tBodies[0];
  body.replaceChildren();
  const fmt = (v, digits = 1) => (v === null || v === undefined ? '—' : v.toFixed(digits));
  for (const name of [...names].sort()) {
    const p = latest.get(name);
    const row = body.insertRow();
    row.dataset.model = name;
    const cells = [name, fmt(p?.throughput), fmt(p?.p50), fmt(p?.p99), p ? String(p.queue) : '—', fmt(p?.batch)];
    const keys = ['model', 'throughput', 'p50', 'p99', 'queue', 'batch'];
    cells.forEach((text, i) => {
      const cell = row.insertCell();
      cell.textContent = text;
      cell.dataset.metric = keys[i];
    });
  }
  const series = (metric, dashed = false) => [...names].map((name) => ({
    colour: colour(names, name),
    dashed,
    points: live.history.map((e) => ({ t: e.time, v: e.points.get(name)?.[metric] ?? null })),
  }));
  drawChart($('chart-throughput'), series('throughput'), now, windowMs, 'images/s');
  drawChart($('chart-latency'), [...series('p50'), ...series('p99', true)], now, windowMs, 'ms');
  drawChart($('chart-queue'), series('queue'), now, windowMs, 'images');
  drawChart($('chart-batch'), series('batch'), now, windowMs, 'items');
  const legend = $('live-legend');
  legend.replaceChildren();
  for (const name of [...names].sort()) {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colour(names, name);
    item.append(swatch, document.createTextNode(name));
    legend.append(item);
  }
}

function startLive() {
  stopLive();
  const seconds = Number($('live-interval').value);
  if (!(seconds >= 0.5 && seconds <= 60)) {
    showError('live', `poll interval: ${$('live-interval').value} must be from 0.5 to 60 seconds`);
    return;
  }
  if (live.paused) {
    return;
  }
  pollMetrics();
  live.timer = setInterval(pollMetrics, seconds * 1000);
}

function stopLive() {
  if (live.timer) {
    clearInterval(live.timer);
    live.timer = null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Views

function showView() {
  const name = (location.hash || '#models').slice(1);
  const view = $(`view-${name}`) ? name : 'models';
  for (const section of document.querySelectorAll('.view')) {
    section.hidden = section.id !== `view-${view}`;
  }
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.view === view) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
  if (view === 'live') {
    startLive();
  } else {
    stopLive();
  }
}

function wire() {
  const slider = (id) => {
    const update = () => {
      const v = Number($(id).value);
      $(`${id}-value`).textContent = v > 0 ? `= ${v.toFixed(2)}` : "(the model's default)";
    };
    $(id).addEventListener('input', update);
    update();
  };
  slider('gen-truncation');
  slider('text-truncation');
  for (const radio of document.querySelectorAll('input[name="seed-mode"]')) {
    radio.addEventListener('change', () => {
      const list = $('gen-seed-mode-list').checked;
      $('gen-range').hidden = list;
      $('gen-list-row').hidden = !list;
    });
  }
  $('gen-model').addEventListener('change', onGenerateModel);
  $('generate-form').addEventListener('submit', onGenerate);
  $('walk-form').addEventListener('submit', onWalk);
  $('text-model').addEventListener('change', onTextModel);
  $('text-caption').addEventListener('input', onCaptionInput);
  $('text-form').addEventListener('submit', onText);
  $('tr-model').addEventListener('change', onTranslateModel);
  $('tr-file').addEventListener('change', () => pickFile($('tr-file').files[0]));
  $('translate-form').addEventListener('submit', onTranslate);
  const drop = $('tr-drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    pickFile(event.dataTransfer.files[0]);
  });
  $('live-interval').addEventListener('change', () => { if ($('view-live').hidden === false) startLive(); });
  $('live-window').addEventListener('change', () => renderLive(Date.now(), Math.max(1, Number($('live-window').value) || 5) * 60_000));
  $('live-pause').addEventListener('click', () => {
    live.paused = !live.paused;
    $('live-pause').setAttribute('aria-pressed', String(live.paused));
    $('live-pause').textContent = live.paused ? 'Resume' : 'Pause';
    if (live.paused) {
      stopLive();
    } else {
      startLive();
    }
  });
  window.addEventListener('hashchange', showView);
}

wire();
showView();
modelsLoaded = loadModels();
// For the browser tests and the console: the sampler and a way to wait for the first model list.
window.gan = { latent, walk, ready: () => modelsLoaded };

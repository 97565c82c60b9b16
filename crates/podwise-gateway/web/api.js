// The gateway's product API as the page uses it. Every failure becomes an `ApiError`
// carrying the API's own `{code, message}`, so the page can say plainly what went wrong.

import { listener } from './store.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Turns a failed response into an ApiError, whatever its body holds. */
async function failure(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (typeof body.code === 'string' && typeof body.message === 'string') {
      return new ApiError(response.status, body.code, body.message);
    }
  } catch {
    // Not the API's JSON (a proxy's page, say): its status and text still explain it.
  }
  return new ApiError(response.status, `http_${response.status}`, text.slice(0, 200)
    || response.statusText);
}

/**
 * Sends a request and answers the response once it is known to be a success.
 * `options`: `json` (a body to send as JSON), `body` (any other body), `auth` (send the
 * listener's bearer token), `signal`.
 */
async function send(method, path, options = {}) {
  const headers = { accept: 'application/json' };
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  if (options.auth) {
    const me = listener();
    if (me) headers.authorization = `Bearer ${me.token}`;
  }
  const response = await fetch(path, { method, headers, body, signal: options.signal });
  if (!response.ok) throw await failure(response);
  return response;
}

async function json(method, path, options) {
  return (await send(method, path, options)).json();
}

const query = (params) => new URLSearchParams(
  Object.entries(params).filter(([, value]) => value !== undefined && value !== ''),
).toString();

export const categories = () => json('GET', '/api/v1/categories');

export const tags = (category) =>
  json('GET', `/api/v1/categories/${encodeURIComponent(category)}/tags?limit=20`);

export const previews = (tag) => json('GET', `/api/v1/previews?${query({ tag, count: 3 })}`);

export const podcasts = (limit) => json('GET', `/api/v1/podcasts?${query({ limit })}`);

export const episode = (id) => json('GET', `/api/v1/episodes/${encodeURIComponent(id)}`);

export const createUser = () => json('POST', '/api/v1/users', { json: {} });

export const setPreferences = (userId, preferences) => json(
  'PUT', `/api/v1/users/${encodeURIComponent(userId)}/preferences`,
  { json: preferences, auth: true },
);

export const feedback = (userId, episodeId, kind) => json(
  'POST', `/api/v1/users/${encodeURIComponent(userId)}/feedback`,
  { json: { episode_id: episodeId, kind }, auth: true },
);

export const recommendations = (k = 10) =>
  json('GET', `/api/v1/recommendations?${query({ k })}`, { auth: true });

/** The spoken form of `text`, as a WAV blob. */
export async function synthesize(text) {
  const response = await send('POST', '/api/v1/tts/synthesize',
    { json: { text, format: 'wav' } });
  return response.blob();
}

/** The transcript of a recording (a WAV blob). */
export async function transcribe(recording) {
  const form = new FormData();
  form.append('file', recording, 'question.wav');
  return json('POST', '/api/v1/stt/transcribe', { body: form });
}

/**
 * Asks a question and reports the streamed answer as it comes: `handlers.citations`
 * with the list, `handlers.delta` with each piece of text, `handlers.done` with the whole
 * answer. An `error` event, or a stream that ends without `done`, rejects.
 */
export async function askStream(request, handlers, signal) {
  const response = await send('POST', '/api/v1/ask/stream',
    { json: request, auth: Boolean(request.user_id), signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  let finished = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = parseEvent(buffered.slice(0, end));
      buffered = buffered.slice(end + 2);
      if (event.name === 'error') {
        throw new ApiError(response.status, event.data.code, event.data.message);
      }
      if (event.name === 'done') finished = true;
      handlers[event.name]?.(event.data);
    }
  }
  if (!finished) {
    throw new ApiError(response.status, 'stream_cut', 'the answer stopped before it ended');
  }
}

/** One server-sent event: its `event:` name and its `data:` lines as JSON. */
function parseEvent(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return { name, data: data.length ? JSON.parse(data.join('\n')) : null };
}

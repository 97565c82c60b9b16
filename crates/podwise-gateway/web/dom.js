// Small helpers for building the page: elements with translated text, error notices
// and times written as listeners read them.

import { t } from './i18n.js';
import { ApiError } from './api.js';

/**
 * A new element. `options`: `i18n` (a text key) with `args`, `text` (literal text),
 * `attrs` (attributes), `i18nAttrs` (`{attribute: key}`), `on` (`{event: handler}`).
 * Translated text is kept as its key, so a change of language re-writes it; an element
 * with a translated text gets no children.
 */
export function el(tag, options = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    if (value !== undefined && value !== null && value !== false) {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  if (options.args) element.dataset.i18nArgs = JSON.stringify(options.args);
  if (options.i18n) element.dataset.i18n = options.i18n;
  if (options.i18nAttrs) {
    element.dataset.i18nAttrs = Object.entries(options.i18nAttrs)
      .map(([attribute, key]) => `${attribute}:${key}`)
      .join(' ');
  }
  if (options.i18n) element.textContent = t(options.i18n, options.args);
  for (const [attribute, key] of Object.entries(options.i18nAttrs ?? {})) {
    element.setAttribute(attribute, t(key, options.args));
  }
  if (options.text !== undefined) element.textContent = options.text;
  for (const [event, handler] of Object.entries(options.on ?? {})) {
    element.addEventListener(event, handler);
  }
  element.append(...children);
  return element;
}

/** Puts a translated key (with args) on an existing element. */
export function setText(element, key, args) {
  element.dataset.i18n = key;
  if (args) {
    element.dataset.i18nArgs = JSON.stringify(args);
  } else {
    delete element.dataset.i18nArgs;
  }
  element.textContent = t(key, args);
}

/** A notice saying what went wrong, in the API's own words when it gave them. */
export function errorNotice(error, retry) {
  const notice = el('div', { attrs: { class: 'notice error', role: 'alert' } });
  if (error instanceof ApiError) {
    notice.append(
      el('span', { i18n: 'error.prefix', args: { message: error.message } }),
      el('span', { i18n: 'error.code', args: { code: error.code } }),
    );
  } else if (error instanceof TypeError) {
    // fetch rejects with a TypeError when the server cannot be reached at all.
    notice.append(el('span', { i18n: 'error.offline' }));
  } else {
    notice.append(el('span', { i18n: 'error.prefix', args: { message: String(error.message) } }));
  }
  if (retry) {
    notice.append(' ', el('button', { i18n: 'error.retry', attrs: { type: 'button' },
      on: { click: retry } }));
  }
  console.error(error);
  return notice;
}

/** A plain notice (an empty list, a hint) with a translated text. */
export function notice(key, args) {
  return el('p', { i18n: key, args, attrs: { class: 'notice', role: 'status' } });
}

/** Seconds as `m:ss`, or `h:mm:ss` past an hour, to the nearest second. */
export function clock(seconds) {
  const whole = Math.max(0, Math.round(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

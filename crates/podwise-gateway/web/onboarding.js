// Getting started: a category, then one of its tags, then three previews from three
// podcasts to hear and like. Finishing issues the listener's id and token (kept in this
// browser) and stores the preferences, the likes and the previews played.

import * as api from './api.js';
import { language } from './i18n.js';
import { el, errorNotice, notice, setText } from './dom.js';
import { forgetListener, listener, rememberListener } from './store.js';

export function onboardingView() {
  const state = { category: null, tag: null, liked: new Set(), played: new Set() };
  const already = el('p', { attrs: { class: 'notice', role: 'status', hidden: true } });
  const categorySection = section('start.step_category');
  const tagSection = section('start.step_tag');
  const previewSection = section('start.step_previews');
  const finish = el('button', {
    i18n: 'start.finish',
    attrs: { type: 'button', class: 'primary', id: 'finish', disabled: true },
    on: { click: () => complete(state, finish, result) },
  });
  const result = el('div', { attrs: { id: 'onboarding-result', 'aria-live': 'polite' } });
  tagSection.hidden = true;
  previewSection.hidden = true;

  const element = el('section', { attrs: { 'aria-labelledby': 'start-heading' } }, [
    el('h1', { i18n: 'start.heading', attrs: { id: 'start-heading', tabindex: -1 } }),
    el('p', { i18n: 'start.intro', attrs: { class: 'intro' } }),
    already,
    categorySection,
    tagSection,
    previewSection,
    el('p', {}, [finish]),
    result,
  ]);

  const loadCategories = async () => {
    const body = categorySection.body;
    body.replaceChildren(notice('loading'));
    try {
      // One podcast is enough to know the catalog is not empty.
      const [{ categories }, { podcasts }] = await Promise.all([api.categories(),
        api.podcasts(1)]);
      if (categories.length === 0 || podcasts.length === 0) {
        body.replaceChildren(notice('start.no_catalog'));
        return;
      }
      body.replaceChildren(choices(categories.map((category) => ({
        value: category.id,
        label: el('span', { attrs: { 'data-name-zh': category.name_zh,
          'data-name-en': category.name_en },
        text: language() === 'en' ? category.name_en : category.name_zh }),
      })), (id) => {
        state.category = id;
        state.tag = null;
        resetPreviews(state, previewSection, finish);
        loadTags(state, tagSection, previewSection, finish);
      }, 'category'));
    } catch (error) {
      body.replaceChildren(errorNotice(error, loadCategories));
    }
  };
  loadCategories();

  return {
    element,
    shown() {
      const me = listener();
      already.hidden = !me;
      if (me) setText(already, 'start.already', { id: me.userId });
    },
  };
}

/** A step: its heading and a body that is filled later. */
function section(headingKey) {
  const body = el('div');
  const part = el('section', {}, [el('h2', { i18n: headingKey }), body]);
  part.body = body;
  return part;
}

/** A row of toggle buttons of which one is chosen at a time. */
function choices(items, onChoose, name) {
  const list = el('ul', { attrs: { class: 'choices', 'data-choices': name } });
  for (const item of items) {
    const button = el('button', {
      attrs: { type: 'button', 'aria-pressed': 'false', 'data-value': item.value },
      on: {
        click: () => {
          for (const other of list.querySelectorAll('button')) {
            other.setAttribute('aria-pressed', String(other === button));
          }
          onChoose(item.value);
        },
      },
    }, [item.label]);
    list.append(el('li', {}, [button]));
  }
  return list;
}

async function loadTags(state, tagSection, previewSection, finish) {
  const category = state.category;
  tagSection.hidden = false;
  tagSection.body.replaceChildren(notice('loading'));
  try {
    const { tags } = await api.tags(category);
    if (state.category !== category) return;
    if (tags.length === 0) {
      tagSection.body.replaceChildren(notice('start.no_tags'));
      return;
    }
    tagSection.body.replaceChildren(choices(tags.map((tag) => ({
      value: tag.tag,
      label: el('span', {}, [
        tag.tag,
        el('span', { i18n: 'start.episodes', args: { count: tag.episodes },
          attrs: { class: 'count' } }),
      ]),
    })), (tag) => {
      state.tag = tag;
      loadPreviews(state, previewSection, finish);
    }, 'tag'));
  } catch (error) {
    tagSection.body.replaceChildren(errorNotice(error,
      () => loadTags(state, tagSection, previewSection, finish)));
  }
}

function resetPreviews(state, previewSection, finish) {
  state.liked.clear();
  state.played.clear();
  previewSection.hidden = true;
  finish.disabled = true;
}

async function loadPreviews(state, previewSection, finish) {
  const tag = state.tag;
  resetPreviews(state, previewSection, finish);
  previewSection.hidden = false;
  previewSection.body.replaceChildren(notice('loading'));
  try {
    const { previews } = await api.previews(tag);
    if (state.tag !== tag) return;
    if (previews.length === 0) {
      previewSection.body.replaceChildren(notice('start.no_previews'));
      return;
    }
    const cards = el('ul', { attrs: { class: 'cards', id: 'previews' } });
    for (const episode of previews) cards.append(previewCard(state, episode));
    previewSection.body.replaceChildren(cards);
    finish.disabled = false;
  } catch (error) {
    previewSection.body.replaceChildren(errorNotice(error,
      () => loadPreviews(state, previewSection, finish)));
  }
}

function previewCard(state, episode) {
  const audio = el('audio', {
    attrs: { controls: true, preload: 'none', src: episode.preview_url },
    i18nAttrs: { 'aria-label': 'start.preview_label' },
    args: { title: episode.title },
    on: { play: () => state.played.add(episode.id) },
  });
  const like = el('button', {
    i18n: 'start.like',
    i18nAttrs: { 'aria-label': 'start.like_label' },
    args: { title: episode.title },
    attrs: { type: 'button', class: 'like', 'aria-pressed': 'false' },
    on: {
      click: () => {
        const liked = !state.liked.has(episode.id);
        if (liked) state.liked.add(episode.id);
        else state.liked.delete(episode.id);
        like.setAttribute('aria-pressed', String(liked));
        setText(like, liked ? 'start.liked' : 'start.like', { title: episode.title });
      },
    },
  });
  return el('li', { attrs: { class: 'card', 'data-episode-id': episode.id } }, [
    el('h3', { text: episode.title }),
    el('p', { text: episode.podcast_title, attrs: { class: 'show' } }),
    audio,
    like,
  ]);
}

/** Issues the listener (unless this browser has one) and stores what they chose. */
async function complete(state, finish, result) {
  finish.disabled = true;
  setText(finish, 'start.saving');
  result.replaceChildren();
  try {
    const me = await savedListener(state);
    for (const id of state.played) await api.feedback(me.userId, id, 'preview_played');
    for (const id of state.liked) await api.feedback(me.userId, id, 'liked');
    result.replaceChildren(
      el('p', { i18n: 'start.done', args: { id: me.userId },
        attrs: { class: 'notice', role: 'status', id: 'onboarding-done' } }),
      el('p', { i18n: 'start.done_hint', attrs: { class: 'hint' } }),
      el('p', {}, [el('a', { i18n: 'start.go_ask', attrs: { href: '#/ask' } })]),
    );
  } catch (error) {
    result.replaceChildren(errorNotice(error));
  } finally {
    setText(finish, 'start.finish');
    finish.disabled = false;
  }
}

/**
 * The listener with the preferences stored. A token this browser kept that the server no
 * longer knows (its data was reset) is dropped and a new listener issued, once.
 */
async function savedListener(state) {
  const preferences = { categories: [state.category], tags: [state.tag] };
  for (let attempt = 0; ; attempt += 1) {
    let me = listener();
    if (!me) {
      const issued = await api.createUser();
      rememberListener(issued.user_id, issued.token);
      me = listener();
    }
    try {
      await api.setPreferences(me.userId, preferences);
      return me;
    } catch (error) {
      if (!(error instanceof api.ApiError && error.status === 401 && attempt === 0)) throw error;
      forgetListener();
    }
  }
}

// Recommendations for the listener of this browser: the ml service's picks, each shown
// with its episode's details and audio, and a like button that is recorded as feedback.

import * as api from './api.js';
import { el, errorNotice, notice, setText } from './dom.js';
import { listener } from './store.js';

export function forYouView() {
  const body = el('div', { attrs: { id: 'recommendations', 'aria-live': 'polite' } });
  const refresh = el('button', {
    i18n: 'for_you.refresh', attrs: { type: 'button', id: 'refresh' },
    on: { click: () => load() },
  });
  const element = el('section', { attrs: { 'aria-labelledby': 'for-you-heading' } }, [
    el('h1', { i18n: 'for_you.heading', attrs: { id: 'for-you-heading', tabindex: -1 } }),
    el('p', { i18n: 'for_you.intro', attrs: { class: 'intro' } }),
    el('p', {}, [refresh]),
    body,
  ]);

  const load = async () => {
    const me = listener();
    refresh.hidden = !me;
    if (!me) {
      body.replaceChildren(notice('for_you.need_start'),
        el('p', {}, [el('a', { i18n: 'nav.start', attrs: { href: '#/start' } })]));
      return;
    }
    body.replaceChildren(notice('loading'));
    try {
      const reply = await api.recommendations(10);
      if (reply.items.length === 0) {
        body.replaceChildren(notice('for_you.empty'));
        return;
      }
      // Items come with their episode; one the gateway could not give is fetched on its
      // own, and if that fails too its card shows the error.
      const details = await Promise.all(reply.items.map(
        (item) => item.episode
          ?? api.episode(item.episode_id).catch((error) => ({ error })),
      ));
      const cards = el('ul', { attrs: { class: 'cards' } });
      reply.items.forEach((item, i) => cards.append(card(me, item, details[i])));
      body.replaceChildren(...(reply.cold_start ? [notice('for_you.new_listener')] : []), cards);
    } catch (error) {
      body.replaceChildren(errorNotice(error, load));
    }
  };
  return { element, shown: load };
}

function card(me, item, episode) {
  const box = el('li', { attrs: { class: 'card', 'data-episode-id': item.episode_id } });
  if (episode.error) {
    box.append(el('h3', { text: item.episode_id }), errorNotice(episode.error));
    return box;
  }
  box.append(
    el('h3', { text: episode.title }),
    el('p', { text: episode.podcast_title, attrs: { class: 'show' } }),
  );
  if (item.reason) box.append(el('p', { i18n: 'for_you.reason', args: { reason: item.reason } }));
  const url = episode.audio_url ?? episode.preview_url;
  if (url) {
    box.append(el('audio', {
      attrs: { controls: true, preload: 'none', src: url },
      i18nAttrs: { 'aria-label': 'for_you.listen' },
      args: { title: episode.title },
    }));
  }
  const like = el('button', {
    i18n: 'start.like', i18nAttrs: { 'aria-label': 'start.like_label' },
    args: { title: episode.title },
    attrs: { type: 'button', class: 'like', 'aria-pressed': 'false' },
    on: {
      click: async () => {
        like.disabled = true;
        box.querySelector('.notice.error')?.remove();
        try {
          await api.feedback(me.userId, item.episode_id, 'liked');
          like.setAttribute('aria-pressed', 'true');
          setText(like, 'start.liked', { title: episode.title });
        } catch (error) {
          like.disabled = false;
          box.append(errorNotice(error));
        }
      },
    },
  });
  box.append(like);
  return box;
}

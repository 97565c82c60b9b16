// Asking: a question typed or recorded (then transcribed by the STT route), the answer
// streamed as it is written, its citations as buttons that play the episode from the
// cited moment, and on request the answer spoken back by the TTS route.

import * as api from './api.js';
import { clock, el, errorNotice, notice, setText } from './dom.js';
import { startRecording } from './recorder.js';
import { listener } from './store.js';

/** How long a preview runs: a cited moment inside it can be played from the preview. */
const PREVIEW_SECONDS = 60;

export function askView() {
  const conversation = { sessionId: '', recording: null, voiceUrl: null };
  const log = el('ol', { attrs: { class: 'log', id: 'conversation' } });
  const input = el('input', {
    attrs: { type: 'text', id: 'question', name: 'question', required: true,
      autocomplete: 'off', maxlength: 2000 },
    i18nAttrs: { placeholder: 'ask.placeholder' },
  });
  const send = el('button', { i18n: 'ask.send', attrs: { type: 'submit', class: 'primary' } });
  const record = el('button', {
    i18n: 'ask.record', attrs: { type: 'button', id: 'record', 'aria-pressed': 'false' },
  });
  const speak = el('input', { attrs: { type: 'checkbox', id: 'speak' } });
  const status = el('p', { attrs: { class: 'hint', role: 'status', id: 'ask-status' } });
  const player = el('audio', {
    attrs: { id: 'player', controls: true, preload: 'metadata' },
    i18nAttrs: { 'aria-label': 'ask.player' },
  });
  const nowPlaying = el('p', { attrs: { class: 'hint', id: 'now-playing' } });
  const playerBox = el('div', { attrs: { class: 'player', hidden: true } },
    [nowPlaying, player]);
  const voice = el('audio', {
    attrs: { id: 'voice', controls: true },
    i18nAttrs: { 'aria-label': 'ask.voice' },
  });
  const voiceBox = el('div', { attrs: { class: 'voice', hidden: true } },
    [el('p', { i18n: 'ask.voice', attrs: { class: 'hint' } }), voice]);
  const view = { log, input, send, speak, status, player, nowPlaying, playerBox, voice,
    voiceBox };

  const form = el('form', {
    attrs: { class: 'ask-form', id: 'ask-form' },
    on: {
      submit: (event) => {
        event.preventDefault();
        const question = input.value.trim();
        if (!question) return;
        input.value = '';
        ask(view, conversation, question);
      },
    },
  }, [
    el('label', { i18n: 'ask.question', attrs: { for: 'question' } }),
    input,
    el('div', { attrs: { class: 'actions' } }, [
      send,
      record,
      el('label', { attrs: { class: 'inline', for: 'speak' } },
        [speak, el('span', { i18n: 'ask.speak' })]),
    ]),
    status,
  ]);
  record.addEventListener('click', () => toggleRecording(view, conversation, record, form));

  const element = el('section', { attrs: { 'aria-labelledby': 'ask-heading' } }, [
    el('h1', { i18n: 'ask.heading', attrs: { id: 'ask-heading', tabindex: -1 } }),
    el('p', { i18n: 'ask.intro', attrs: { class: 'intro' } }),
    form,
    voiceBox,
    playerBox,
    log,
  ]);
  return { element };
}

async function ask(view, conversation, question) {
  // Busy while it streams, so a screen reader reads the answer once, when it is whole.
  const answer = el('p', {
    i18n: 'ask.thinking',
    attrs: { class: 'answer', 'aria-live': 'polite', 'aria-busy': 'true' },
  });
  const sources = el('div', { attrs: { class: 'sources' } });
  const turn = el('li', { attrs: { class: 'turn' } }, [
    el('span', { i18n: 'ask.you', attrs: { class: 'label' } }),
    el('p', { text: question, attrs: { class: 'question' } }),
    el('span', { i18n: 'ask.answer', attrs: { class: 'label' } }),
    answer,
    sources,
  ]);
  view.log.append(turn);
  turn.scrollIntoView({ block: 'nearest' });
  view.send.disabled = true;

  const write = (text) => {
    // The first words replace the "thinking" placeholder, which is no longer translated.
    if (answer.dataset.i18n) {
      delete answer.dataset.i18n;
      answer.textContent = '';
    }
    answer.textContent += text;
  };
  const me = listener();
  const request = { question };
  if (me) request.user_id = me.userId;
  if (conversation.sessionId) request.session_id = conversation.sessionId;
  let whole = null;
  try {
    await api.askStream(request, {
      citations: ({ citations }) => showCitations(view, sources, citations),
      delta: ({ text }) => write(text),
      done: (reply) => {
        whole = reply;
        delete answer.dataset.i18n;
        answer.textContent = reply.answer;
        conversation.sessionId = reply.session_id;
        showCitations(view, sources, reply.citations);
        if (!reply.grounded && reply.nearest_topics.length > 0) {
          turn.append(notice('ask.nothing_found', { topics: reply.nearest_topics.join('、') }));
        }
      },
    });
  } catch (error) {
    if (answer.dataset.i18n) answer.remove();
    turn.append(errorNotice(error));
    // A token this browser kept that the server no longer knows: getting started again
    // issues a new one.
    if (me && error instanceof api.ApiError && error.status === 401) {
      turn.append(el('p', {}, [el('a', { i18n: 'ask.start_again', attrs: { href: '#/start' } })]));
    }
  } finally {
    answer.removeAttribute('aria-busy');
    view.send.disabled = false;
  }
  if (whole && view.speak.checked && whole.answer) await speakAnswer(view, conversation, whole);
}

function showCitations(view, sources, citations) {
  if (citations.length === 0) {
    sources.replaceChildren();
    return;
  }
  const list = el('ul', { attrs: { class: 'citations' } });
  for (const citation of citations) {
    const url = citation.audio_url
      ?? (citation.start < PREVIEW_SECONDS ? citation.preview_url : null);
    const time = clock(citation.start);
    const button = el('button', {
      attrs: { type: 'button', class: 'citation', disabled: !url,
        'data-start': citation.start, 'data-episode-id': citation.episode_id },
      i18nAttrs: { title: url ? 'ask.play_from' : 'ask.no_audio' },
      args: { title: citation.title, time },
      on: { click: () => play(view, citation, url) },
    }, [
      el('span', { text: `${citation.podcast_title}｜${citation.title} · ${time}` }),
      el('span', { text: citation.snippet, attrs: { class: 'snippet' } }),
    ]);
    list.append(el('li', {}, [button]));
  }
  sources.replaceChildren(el('h2', { i18n: 'ask.sources' }), list);
}

/** Plays the cited episode from the cited moment in the one player of the page. */
function play(view, citation, url) {
  const { player } = view;
  view.playerBox.hidden = false;
  setText(view.nowPlaying, 'ask.now_playing', { title: citation.title,
    time: clock(citation.start) });
  view.playerBox.querySelector('.notice')?.remove();
  const seek = () => {
    player.currentTime = citation.start;
    player.play().catch((error) => {
      // A browser that refuses to start sound on its own still shows the controls, set
      // at the right moment; anything else means the audio cannot be played.
      if (error.name !== 'NotAllowedError') view.playerBox.append(errorNotice(error));
    });
  };
  if (player.dataset.url === url && player.readyState >= HTMLMediaElement.HAVE_METADATA) {
    seek();
    return;
  }
  player.dataset.url = url;
  player.addEventListener('loadedmetadata', seek, { once: true });
  player.src = url;
}

async function speakAnswer(view, conversation, reply) {
  setText(view.status, 'ask.speaking');
  try {
    const audio = await api.synthesize(reply.answer);
    if (conversation.voiceUrl) URL.revokeObjectURL(conversation.voiceUrl);
    conversation.voiceUrl = URL.createObjectURL(audio);
    view.voiceBox.hidden = false;
    view.voice.src = conversation.voiceUrl;
    view.status.textContent = '';
    delete view.status.dataset.i18n;
    await view.voice.play().catch(() => {});
  } catch (error) {
    view.status.replaceChildren(errorNotice(error));
    delete view.status.dataset.i18n;
  }
}

async function toggleRecording(view, conversation, record, form) {
  if (!conversation.recording) {
    try {
      conversation.recording = await startRecording(() => record.click());
    } catch (error) {
      view.status.replaceChildren(errorNotice(error));
      return;
    }
    record.setAttribute('aria-pressed', 'true');
    setText(record, 'ask.stop');
    setText(view.status, 'ask.recording');
    return;
  }
  const recording = conversation.recording;
  conversation.recording = null;
  record.setAttribute('aria-pressed', 'false');
  setText(record, 'ask.record');
  setText(view.status, 'ask.transcribing');
  record.disabled = true;
  try {
    const transcript = await api.transcribe(await recording.stop());
    view.status.textContent = '';
    delete view.status.dataset.i18n;
    view.input.value = transcript.text.trim();
    if (view.input.value) form.requestSubmit();
  } catch (error) {
    delete view.status.dataset.i18n;
    view.status.replaceChildren(errorNotice(error));
  } finally {
    record.disabled = false;
  }
}

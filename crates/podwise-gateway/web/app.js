// The listener's web UI: three views (getting started, asking, recommendations) chosen
// by the address's fragment, and the language switch in the header.

import { language, setLanguage, translate } from './i18n.js';
import { listener } from './store.js';
import { onboardingView } from './onboarding.js';
import { askView } from './chat.js';
import { forYouView } from './recommendations.js';

const VIEWS = { start: onboardingView, ask: askView, 'for-you': forYouView };

// Each view is built once and kept, so switching views (or languages) keeps what the
// listener had done in it: a half-finished onboarding, the conversation so far.
const built = new Map();

function currentView() {
  const name = location.hash.replace(/^#\/?/, '');
  if (name in VIEWS) return name;
  return listener() ? 'ask' : 'start';
}

function show() {
  const name = currentView();
  const main = document.getElementById('view');
  if (!built.has(name)) built.set(name, VIEWS[name]());
  const view = built.get(name);
  // A kept view missed any change of language while it was off screen.
  translate(view.element);
  main.replaceChildren(view.element);
  view.shown?.();
  for (const link of document.querySelectorAll('nav a[data-view]')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  // Moving focus to the view tells screen readers the page changed.
  view.element.querySelector('h1')?.focus({ preventScroll: true });
}

document.getElementById('language').addEventListener('click', () => {
  setLanguage(language() === 'en' ? 'zh-TW' : 'en');
  // Keep the switch in the language it offers.
  document.getElementById('language').lang = language() === 'en' ? 'zh-Hant-TW' : 'en';
});

// The skip link moves focus without touching the address, whose fragment names the view.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('view').focus();
});

window.addEventListener('hashchange', show);
translate(document);
document.getElementById('language').lang = language() === 'en' ? 'zh-Hant-TW' : 'en';
show();

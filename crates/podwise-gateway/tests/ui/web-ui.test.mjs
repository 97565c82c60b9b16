// Drives the gateway's web UI in Debian's headless Chromium, as a listener on a phone
// would use it: gets started (category, tag, three previews, likes), asks a question and
// plays a cited moment, asks again by voice and hears the answer, looks at the
// recommendations, and switches to English. Another scenario checks what an empty
// catalog and a missing library service look like.
//
//   node web-ui.test.mjs <base-url> <artefact-dir>
//
// with UI_TEST_* variables naming the scenario and what the catalog under test holds
// (see below). Prints `ok - <check>` per check and exits non-zero at the first failure,
// after saving a screenshot of it. The gateway's Rust test
// (tests/gateway/web_ui/browser.rs) makes the catalog and runs this script.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [base, artefacts] = process.argv.slice(2);
// `library` (the default) runs the listener's whole visit against a catalog with the
// episodes below; `empty` checks what a gateway with an empty catalog and no library
// service behind it shows.
const scenario = process.env.UI_TEST_SCENARIO ?? 'library';
const category = process.env.UI_TEST_CATEGORY;
const tag = process.env.UI_TEST_TAG;
const question = process.env.UI_TEST_QUESTION;
// The question spoken into a WAV file, which Chromium's fake microphone plays, and its
// length; the word the transcript must contain.
const spoken = process.env.UI_TEST_SPOKEN_QUESTION;
const spokenSeconds = Number(process.env.UI_TEST_SPOKEN_SECONDS);
const spokenWord = process.env.UI_TEST_SPOKEN_WORD;
const library = scenario === 'library';
const complete = library
  ? category && tag && question && spoken && spokenSeconds > 0 && spokenWord
  : scenario === 'empty' && question;
if (!base || !artefacts || !complete) {
  console.error('usage: [UI_TEST_SCENARIO=library|empty] UI_TEST_QUESTION=.. '
    + 'and for a library UI_TEST_CATEGORY=.. UI_TEST_TAG=.. UI_TEST_SPOKEN_QUESTION=<wav> '
    + 'UI_TEST_SPOKEN_SECONDS=.. UI_TEST_SPOKEN_WORD=.. '
    + 'node web-ui.test.mjs <base-url> <artefact-dir>');
  process.exit(2);
}
mkdirSync(artefacts, { recursive: true });

/** How long one step may wait for the page (the streamed answer is the slowest). */
const STEP_MS = 90_000;
/** A phone's viewport: the UI must work at this width. */
const PHONE = { width: 390, height: 844 };

class CheckFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/** Waits for `step`; running out of time fails the run saying what never happened. */
async function within(what, step) {
  try {
    return await step;
  } catch (error) {
    if (error.name === 'TimeoutError') throw new CheckFailed(`${what} (timed out)`);
    throw error;
  }
}

function passed(name) {
  console.log(`ok - ${name}`);
}

// A fresh profile per run: nothing kept from an earlier run (storage, cache) can help.
const profile = mkdtempSync(join(tmpdir(), 'podwise-ui-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // Previews are started by the script, not by a hand on the screen.
    '--autoplay-policy=no-user-gesture-required',
    // The microphone hears the spoken question once, then silence.
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    ...(spoken ? [`--use-file-for-fake-audio-capture=${spoken}%noloop`] : []),
  ],
  permissions: ['microphone'],
  viewport: PHONE,
  locale: 'zh-TW',
});
const page = context.pages()[0] ?? await context.newPage();
page.setDefaultTimeout(STEP_MS);

// Script errors and refused loads (a Content-Security-Policy violation, say) fail the run.
const problems = [];
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
page.on('console', (message) => {
  if (message.type() === 'error') {
    problems.push(`console error: ${message.text()}`);
  }
});

let shots = 0;
async function screenshot(name) {
  shots += 1;
  await page.screenshot({ path: join(artefacts, `${name}.png`), fullPage: true });
}

async function noHorizontalScroll(view) {
  const [scroll, width] = await page.evaluate(
    () => [document.documentElement.scrollWidth, window.innerWidth],
  );
  check(scroll <= width, `${view} is ${scroll} px wide on a ${width} px phone screen`);
}

async function noErrorShown(view) {
  const errors = await page.locator('.notice.error').allInnerTexts();
  check(errors.length === 0, `${view} shows an error: ${errors.join(' / ')}`);
}

async function api(path, token) {
  const response = await fetch(new URL(path, base), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const body = await response.json();
  check(response.ok, `${path} answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

async function onboarding() {
  await page.goto(base);
  // Reported, not checked: a timed assertion would fail on a busy machine, not a slow UI.
  const load = await page.evaluate(() => {
    const [navigation] = performance.getEntriesByType('navigation');
    const files = performance.getEntriesByType('resource')
      .filter((entry) => new URL(entry.name).pathname.startsWith('/ui/'));
    const bytes = files.reduce((sum, entry) => sum + entry.encodedBodySize,
      navigation.encodedBodySize);
    return { ready: navigation.domContentLoadedEventEnd, files: files.length, bytes };
  });
  console.log(`# first visit: ready in ${Math.round(load.ready)} ms, the page and `
    + `${load.files} files, ${load.bytes} bytes`);
  check(await page.locator('h1').innerText() === '開始設定',
    'a new listener does not land on getting started in Traditional Chinese');
  const categoryButton = page.locator(
    `[data-choices="category"] button[data-value="${category}"]`,
  );
  await within(`no button for the category ${category}`, categoryButton.waitFor());
  await noErrorShown('getting started');
  await screenshot('01-categories');
  await categoryButton.click();

  const tagButton = page.locator(`[data-choices="tag"] button[data-value="${tag}"]`);
  await within(`no button for the tag ${tag}`, tagButton.waitFor());
  await tagButton.click();
  check(await tagButton.getAttribute('aria-pressed') === 'true', 'the chosen tag is not shown');

  const cards = page.locator('#previews li.card');
  await within('fewer than three previews', cards.nth(2).waitFor());
  check(await cards.count() === 3, `${await cards.count()} previews instead of three`);
  const shows = await cards.locator('.show').allInnerTexts();
  check(new Set(shows).size === 3, `the previews are not from three podcasts: ${shows}`);
  const episodes = await cards.evaluateAll((all) => all.map((card) => card.dataset.episodeId));
  for (const audio of await cards.locator('audio').all()) {
    check(Boolean(await audio.getAttribute('src')), 'a preview has no audio');
  }
  // The first preview is played to its first second, the first two are liked.
  const played = await cards.first().locator('audio').evaluate((audio) => new Promise(
    (resolve, reject) => {
      audio.addEventListener('timeupdate', () => audio.currentTime > 0.5 && resolve(true));
      audio.addEventListener('error', () => reject(new Error('the preview does not play')));
      audio.play().catch(reject);
    },
  ));
  check(played, 'the first preview does not play');
  for (const index of [0, 1]) {
    const like = cards.nth(index).locator('button.like');
    await like.click();
    check(await like.getAttribute('aria-pressed') === 'true', 'a like is not shown');
  }
  await noHorizontalScroll('the previews');
  await screenshot('02-previews');

  await page.locator('#finish').click();
  const done = page.locator('#onboarding-done');
  await within('finishing shows no outcome',
    done.or(page.locator('#onboarding-result .notice.error')).waitFor());
  await noErrorShown('finishing getting started');
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('podwise.listener')));
  check(stored?.userId && stored?.token, 'no listener id and token kept in the browser');
  check((await done.innerText()).includes(stored.userId), 'the issued id is not shown');
  const preferences = await api(
    `/api/v1/users/${encodeURIComponent(stored.userId)}/preferences`, stored.token,
  );
  check(JSON.stringify(preferences.categories) === JSON.stringify([category]),
    `stored categories ${JSON.stringify(preferences.categories)}`);
  check(JSON.stringify(preferences.tags) === JSON.stringify([tag]),
    `stored tags ${JSON.stringify(preferences.tags)}`);
  await screenshot('03-onboarded');
  passed('onboarding stored the preferences');
  return { stored, episodes };
}

async function asking() {
  await page.locator('a[data-view="ask"]').click();
  await page.locator('#question').fill(question);
  await page.locator('#question').press('Enter');
  const turn = page.locator('#conversation li.turn').last();
  // The answer is whole when the send button is given back.
  await within('the question is not shown', turn.waitFor());
  await within('the answer never ends', page.waitForFunction(
    () => !document.querySelector('#ask-form button[type=submit]').disabled,
  ));
  await noErrorShown('the answer');
  const answer = (await turn.locator('.answer').innerText()).trim();
  check(answer.length > 0, 'the answer is empty');
  const citations = turn.locator('button.citation');
  check(await citations.count() > 0, `the answer "${answer}" has no citations`);
  await noHorizontalScroll('the answer');
  await screenshot('04-answer');
  passed('the answer has citations');

  // The cited moment furthest into its episode, so the seek is plainly visible.
  const playable = await citations.evaluateAll((all) => all
    .map((button, index) => ({ index, start: Number(button.dataset.start),
      disabled: button.disabled }))
    .filter((citation) => !citation.disabled));
  check(playable.length > 0, 'no citation has audio to play');
  const furthest = playable.reduce((a, b) => (b.start > a.start ? b : a));
  check(furthest.start > 0, 'every cited moment is at the very start of its episode');
  // Where the player lands on its first seek: playing on from 0 would pass the cited
  // moment later, so the position is read at the seek itself.
  const player = page.locator('#player');
  await player.evaluate((audio) => {
    window.seekedAt = [];
    audio.addEventListener('seeked', () => window.seekedAt.push(audio.currentTime));
  });
  await citations.nth(furthest.index).click();
  await within('the player never seeks', page.waitForFunction(
    () => window.seekedAt.length > 0, null, { timeout: 20_000 },
  ));
  const landed = await page.evaluate(() => window.seekedAt[0]);
  check(Math.abs(landed - furthest.start) < 0.5,
    `the player seeked to ${landed} s, not to the cited ${furthest.start} s`);
  const position = await player.evaluate((audio) => audio.currentTime);
  check(position >= furthest.start - 0.25 && position < furthest.start + 5,
    `the player is at ${position} s, not at the cited ${furthest.start} s`);
  await noErrorShown('the player');
  await screenshot('05-playing');
  passed('a citation plays from its start');
}

async function askingByVoice() {
  const turns = page.locator('#conversation li.turn');
  const before = await turns.count();
  await page.locator('#speak').check();
  const record = page.locator('#record');
  await record.click();
  // Starting asks for the microphone and loads the audio worklet: wait for either outcome.
  await within('recording neither starts nor fails',
    page.locator('#record[aria-pressed="true"], #ask-status .notice.error').waitFor());
  await noErrorShown('starting the recording');
  check(await record.getAttribute('aria-pressed') === 'true', 'recording does not start');
  // The fake microphone plays the question from the moment recording starts.
  await page.waitForTimeout((spokenSeconds + 1) * 1000);
  await record.click();
  await within('the recorded question is never asked', turns.nth(before).waitFor());
  const heard = await turns.nth(before).locator('.question').innerText();
  check(heard.toLowerCase().includes(spokenWord.toLowerCase()),
    `the recorded question was heard as "${heard}"`);
  passed('a recorded question is transcribed and asked');

  await within('no spoken answer appears', page.waitForFunction(() => {
    const voice = document.getElementById('voice');
    return !voice.closest('[hidden]') && voice.src.startsWith('blob:') && voice.duration > 0;
  }));
  await noErrorShown('the spoken answer');
  await screenshot('06-spoken');
  passed('the answer is spoken back');
}

async function recommendations() {
  await page.locator('a[data-view="for-you"]').click();
  const list = page.locator('#recommendations');
  await within('the recommendations never load', page.waitForFunction(
    () => document.querySelector('#recommendations .cards, #recommendations .notice')
      && !document.querySelector('#recommendations [data-i18n="loading"]'),
  ));
  await noErrorShown('the recommendations');
  const titles = await list.locator('li.card h3').allInnerTexts();
  check(titles.length > 0 && titles.every((title) => title.trim()),
    `the recommendations list ${JSON.stringify(titles)}`);
  await screenshot('07-for-you');
  passed('the recommendations are shown');

  // A token the server does not know gets the API's own words on screen, not a blank.
  const stored = await page.evaluate(() => localStorage.getItem('podwise.listener'));
  const expected = problems.length;
  await page.evaluate((listener) => localStorage.setItem('podwise.listener', JSON.stringify(
    { ...JSON.parse(listener), token: 'not-a-token-this-server-issued' },
  )), stored);
  await page.locator('#refresh').click();
  const refused = page.locator('#recommendations .notice.error');
  await within('a refused token shows no error', refused.waitFor());
  const said = await refused.innerText();
  check(said.includes('unknown or revoked') && said.includes('unauthenticated'),
    `a refused token shows "${said}"`);
  // The refusal is logged in the console on purpose: it is no problem of the page.
  problems.splice(expected);
  await page.evaluate((listener) => localStorage.setItem('podwise.listener', listener), stored);
  passed('an API error is shown in its own words');
}

async function english() {
  const before = await page.locator('a[data-view="start"]').innerText();
  await page.locator('#language').click();
  const after = await page.locator('a[data-view="start"]').innerText();
  check(before === '開始設定' && after === 'Get started', `the nav reads ${before} → ${after}`);
  check(await page.locator('h1').innerText() === 'For you', 'the heading is not in English');
  check(await page.evaluate(() => document.documentElement.lang) === 'en', 'lang is not en');
  // The choice is remembered, and views built in Chinese are shown in English too.
  await page.reload();
  await page.locator('a[data-view="ask"]').click();
  // The view changes on the address's next hashchange event, not within the click.
  await within('English is not remembered', page.locator('#ask-heading', { hasText: /^Ask$/ })
    .waitFor({ timeout: 10_000 }));
  check(await page.locator('label[for="question"]').innerText() === 'Your question',
    'the question box is not labelled in English');
  await screenshot('08-english');
  passed('the English switch changes the text');

  // The same page on a desktop screen, for the record.
  await page.setViewportSize({ width: 1280, height: 800 });
  await noHorizontalScroll('the desktop page');
  await screenshot('09-desktop');
}

async function emptyCatalog() {
  await page.goto(base);
  await within('an empty catalog shows no message',
    page.locator('[data-i18n="start.no_catalog"]').waitFor());
  await noErrorShown('an empty catalog');
  check(await page.locator('#finish').isDisabled(), 'an empty catalog can be finished');
  await screenshot('01-empty-catalog');
  passed('an empty catalog says so');

  await page.locator('a[data-view="for-you"]').click();
  await within('a new listener is not told to get started first',
    page.locator('#recommendations [data-i18n="for_you.need_start"]').waitFor());

  const expected = problems.length;
  await page.locator('a[data-view="ask"]').click();
  await page.locator('#question').fill(question);
  await page.locator('#question').press('Enter');
  const refused = page.locator('#conversation .notice.error');
  await within('a question to a missing library shows no error', refused.waitFor());
  const said = await refused.innerText();
  check(said.includes('unavailable'), `the missing library service shows "${said}"`);
  // The refusal is logged in the console on purpose: it is no problem of the page.
  problems.splice(expected);
  await screenshot('02-library-down');
  passed('a question with the library down shows the error');
}

let failed = false;
try {
  if (library) {
    await onboarding();
    await asking();
    await askingByVoice();
    await recommendations();
    await english();
  } else {
    await emptyCatalog();
  }
  check(problems.length === 0, problems.join('\n'));
  passed('no script error and no refused load');
  console.log(`web UI: all checks passed (${shots} screenshots in ${artefacts})`);
} catch (error) {
  failed = true;
  console.log(`not ok - ${error instanceof CheckFailed ? error.message : error.stack}`);
  if (problems.length > 0) console.log(problems.join('\n'));
  await page.screenshot({ path: join(artefacts, 'failure.png'), fullPage: true })
    .catch(() => {});
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

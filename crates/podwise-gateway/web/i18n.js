// The words of the interface in each language, and the code that puts them on the page.
// Traditional Chinese is the default; the choice is remembered in localStorage.
//
// Elements carry their text as a key (`data-i18n`, with `data-i18n-args` for values) and
// their attributes as `data-i18n-attrs="aria-label:key placeholder:key"`, so a change of
// language re-translates what is on screen without losing what the listener has done.

const WORDS = {
  'zh-TW': {
    'app.title': 'Podwise 播客探索',
    'nav.label': '主要頁面',
    'nav.skip': '跳到主要內容',
    'nav.start': '開始設定',
    'nav.ask': '問問題',
    'nav.for_you': '為你推薦',
    'language.switch': 'English',
    'language.switch_label': '切換成英文介面',
    'loading': '載入中…',
    'error.prefix': '出了點問題：{message}',
    'error.code': '（代碼：{code}）',
    'error.offline': '無法連線到伺服器，請稍後再試。',
    'error.retry': '再試一次',
    'start.heading': '開始設定',
    'start.intro': '選一個類別和主題，試聽三段節目，按讚你喜歡的，我們就能為你推薦。',
    'start.step_category': '1. 選擇你有興趣的類別',
    'start.step_tag': '2. 選一個主題',
    'start.step_previews': '3. 試聽並按讚你喜歡的節目',
    'start.no_catalog': '目前還沒有任何節目。請營運者先匯入節目後再來。',
    'start.no_tags': '這個類別還沒有主題，請選別的類別。',
    'start.no_previews': '這個主題還沒有可試聽的節目，請選別的主題。',
    'start.episodes': '{count} 集',
    'start.preview_label': '試聽：{title}',
    'start.like': '喜歡',
    'start.liked': '已按讚',
    'start.like_label': '喜歡「{title}」',
    'start.finish': '完成設定',
    'start.saving': '儲存中…',
    'start.done': '設定完成！你的聽眾編號是 {id}。',
    'start.done_hint': '現在可以問問題，或看看為你推薦的節目。',
    'start.go_ask': '去問問題',
    'start.already': '你已經完成設定（聽眾編號 {id}）。再設定一次會更新你的偏好。',
    'ask.heading': '問問題',
    'ask.intro': '用文字或語音提問，答案會附上節目和時間點。',
    'ask.question': '你的問題',
    'ask.placeholder': '例如：番茄鐘工作法是什麼？',
    'ask.send': '送出',
    'ask.record': '錄音提問',
    'ask.stop': '停止錄音',
    'ask.recording': '錄音中…再按一次停止。',
    'ask.transcribing': '辨識語音中…',
    'ask.no_microphone': '這個瀏覽器無法使用麥克風。',
    'ask.needs_https': '瀏覽器只在 HTTPS 或本機網址上開放麥克風，請改用 HTTPS 開啟這個頁面。',
    'ask.speak': '朗讀回答',
    'ask.start_again': '這個瀏覽器記得的聽眾編號已失效，請重新開始設定。',
    'ask.you': '你問',
    'ask.answer': '回答',
    'ask.thinking': '思考中…',
    'ask.sources': '出處',
    'ask.nothing_found': '找不到相關的節目。相近的主題：{topics}',
    'ask.play_from': '從 {time} 開始播放「{title}」',
    'ask.no_audio': '這一集沒有音檔',
    'ask.player': '節目播放器',
    'ask.now_playing': '正在播放：{title}（{time} 起）',
    'ask.voice': '語音回答',
    'ask.speaking': '產生語音中…',
    'for_you.heading': '為你推薦',
    'for_you.intro': '依照你的喜好和收聽紀錄挑選的單集。',
    'for_you.need_start': '完成設定後就能看到為你挑選的節目。',
    'for_you.empty': '目前還沒有推薦，先去按讚幾集吧。',
    'for_you.refresh': '重新整理',
    'for_you.new_listener': '你是新聽眾，這些是熱門和符合偏好的節目。',
    'for_you.reason': '推薦原因：{reason}',
    'for_you.listen': '收聽「{title}」',
  },
  en: {
    'app.title': 'Podwise podcast discovery',
    'nav.label': 'Main pages',
    'nav.skip': 'Skip to the main content',
    'nav.start': 'Get started',
    'nav.ask': 'Ask',
    'nav.for_you': 'For you',
    'language.switch': '中文',
    'language.switch_label': 'Switch to the Chinese interface',
    'loading': 'Loading…',
    'error.prefix': 'Something went wrong: {message}',
    'error.code': ' (code: {code})',
    'error.offline': 'The server cannot be reached; please try again later.',
    'error.retry': 'Try again',
    'start.heading': 'Get started',
    'start.intro':
      'Pick a category and a topic, hear three previews and like the ones you enjoy, '
      + 'so we can recommend shows for you.',
    'start.step_category': '1. Choose a category you are interested in',
    'start.step_tag': '2. Pick a topic',
    'start.step_previews': '3. Listen and like the episodes you enjoy',
    'start.no_catalog': 'There are no shows yet. Please ask an operator to add some first.',
    'start.no_tags': 'This category has no topics yet; please choose another one.',
    'start.no_previews': 'No episode of this topic has a preview yet; please pick another.',
    'start.episodes': '{count} episodes',
    'start.preview_label': 'Preview: {title}',
    'start.like': 'Like',
    'start.liked': 'Liked',
    'start.like_label': 'Like “{title}”',
    'start.finish': 'Finish',
    'start.saving': 'Saving…',
    'start.done': 'All set! Your listener id is {id}.',
    'start.done_hint': 'You can ask a question now, or see what we recommend for you.',
    'start.go_ask': 'Ask a question',
    'start.already':
      'You have already set up (listener id {id}). Doing it again updates your preferences.',
    'ask.heading': 'Ask',
    'ask.intro': 'Ask by text or voice; answers name the episode and the moment.',
    'ask.question': 'Your question',
    'ask.placeholder': 'For example: what is the Pomodoro technique?',
    'ask.send': 'Send',
    'ask.record': 'Ask by voice',
    'ask.stop': 'Stop recording',
    'ask.recording': 'Recording… press again to stop.',
    'ask.transcribing': 'Recognising speech…',
    'ask.no_microphone': 'This browser cannot use a microphone.',
    'ask.needs_https':
      'Browsers allow the microphone only on HTTPS or local addresses: open this page over HTTPS.',
    'ask.speak': 'Read the answer aloud',
    'ask.start_again': 'The listener id this browser kept is no longer valid: get started again.',
    'ask.you': 'You asked',
    'ask.answer': 'Answer',
    'ask.thinking': 'Thinking…',
    'ask.sources': 'Sources',
    'ask.nothing_found': 'No episode covers that. Nearest topics: {topics}',
    'ask.play_from': 'Play “{title}” from {time}',
    'ask.no_audio': 'This episode has no audio',
    'ask.player': 'Episode player',
    'ask.now_playing': 'Now playing: {title} (from {time})',
    'ask.voice': 'Spoken answer',
    'ask.speaking': 'Making the spoken answer…',
    'for_you.heading': 'For you',
    'for_you.intro': 'Episodes picked from your preferences and what you listened to.',
    'for_you.need_start': 'Finish getting started to see episodes picked for you.',
    'for_you.empty': 'No recommendations yet; like a few episodes first.',
    'for_you.refresh': 'Refresh',
    'for_you.new_listener': 'You are new here: these are popular and match your preferences.',
    'for_you.reason': 'Why: {reason}',
    'for_you.listen': 'Listen to “{title}”',
  },
};

export const LANGUAGES = Object.keys(WORDS);
const DEFAULT_LANGUAGE = 'zh-TW';
const STORAGE_KEY = 'podwise.language';

let current = readStoredLanguage();

function readStoredLanguage() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(stored) ? stored : DEFAULT_LANGUAGE;
  } catch {
    // Storage may be disabled; the default language still works.
    return DEFAULT_LANGUAGE;
  }
}

export function language() {
  return current;
}

export function setLanguage(next) {
  if (!LANGUAGES.includes(next)) throw new Error(`unknown language ${next}`);
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered, but the page still switches.
  }
  translate(document);
}

/** The text of `key` in the current language, with `{name}` replaced from `args`. */
export function t(key, args = {}) {
  const text = WORDS[current][key] ?? WORDS[DEFAULT_LANGUAGE][key];
  if (text === undefined) throw new Error(`no UI text for ${key}`);
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in args ? String(args[name]) : whole));
}

/** Re-writes every translated text and attribute under `root`. */
export function translate(root) {
  if (root === document) {
    document.documentElement.lang = current === 'en' ? 'en' : 'zh-Hant-TW';
    document.title = t('app.title');
  }
  for (const element of root.querySelectorAll('[data-i18n]')) {
    element.textContent = t(element.dataset.i18n, argsOf(element));
  }
  for (const element of root.querySelectorAll('[data-i18n-attrs]')) {
    for (const pair of element.dataset.i18nAttrs.split(' ')) {
      const [attribute, key] = pair.split(':');
      element.setAttribute(attribute, t(key, argsOf(element)));
    }
  }
  for (const element of root.querySelectorAll('[data-name-en]')) {
    element.textContent = current === 'en' ? element.dataset.nameEn : element.dataset.nameZh;
  }
}

function argsOf(element) {
  return element.dataset.i18nArgs ? JSON.parse(element.dataset.i18nArgs) : {};
}

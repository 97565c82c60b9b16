//! The benchmark's audio, each clip one Whisper window (at most 30 s) of 16 kHz mono
//! samples: sentences spoken by espeak-ng when the benchmark starts (here), and human
//! recordings (in `recordings.rs`).

use std::process::Command;

/// A spoken clip with the text it says.
#[derive(Debug)]
pub struct Clip {
    pub name: String,
    /// The Whisper language code both engines are told to transcribe in.
    pub language: &'static str,
    pub origin: Origin,
    pub text: String,
    /// 16 kHz mono in -1..1.
    pub samples: Vec<f32>,
}

impl Clip {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(RATE)
    }
}

/// Who spoke a clip: its error rate is reported for each origin apart, and for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// espeak-ng, from the texts below.
    Synthesised,
    /// A person, in a recording with its reference text.
    Recorded,
}

/// Whisper's sample rate.
pub const RATE: u32 = 16_000;

/// English, read with `en-us`: podcast talk without hyphens, and only numbers that Whisper
/// spells out (it wrote "10 minutes" for "ten minutes"), so the word error rate measures
/// hearing rather than spelling conventions. The last eight were added, all at once and
/// before any run with them, so that one borderline word moves the rate less.
const ENGLISH: [&str; 16] = [
    "Welcome back to the show. Today we are talking about how small farms find new \
     customers online. Our guest grew up in the mountains and now sells tea to listeners \
     all over the world. She told us that the hardest part was not the farming itself, but \
     learning to tell her story in a way that people would remember.",
    "Before we begin, a quick reminder that every episode has a written summary on our \
     website. If you missed last week, we spoke with a teacher who records short lessons on \
     the train each morning. Many of you wrote to say that those lessons helped you study \
     for your exams on your way to work.",
    "The weather has been strange this spring. It rained for most of March, and then the \
     heat arrived almost overnight. Farmers in the valley say the leaves grew faster than \
     usual, which changes the taste of the first harvest. Some of them are already planning \
     to pick earlier next year.",
    "Let me explain how the recommendation system works. When you finish an episode, the \
     app looks at what similar listeners enjoyed next. It does not read your messages or \
     listen to your microphone. You can turn the feature off in the settings page at any \
     time, and your history will be deleted.",
    "Our producer asked me to read a few of your questions. The first one comes from a \
     listener who wants to know how we choose our guests. The honest answer is that most of \
     them are people you recommended. So please keep writing to us, because your ideas \
     shape the whole season.",
    "Sleep matters more than most of us admit. Researchers found that people who slept less \
     than six hours remembered fewer details from the stories they had heard the day \
     before. The good news is that a short walk in the afternoon and a regular bedtime made \
     a clear difference within two weeks.",
    "Cooking at home does not have to take a long time. Start with rice, a few vegetables \
     and some garlic. Heat the pan until it is very hot, add the oil, and keep everything \
     moving. Before long you will have a meal that is cheaper and often healthier than \
     anything you could order.",
    "That is all for today. Thank you for listening, and thank you to everyone who shared \
     the show with a friend. Next week we travel to the coast to meet a family that has \
     been building wooden boats for four generations. Until then, take care of yourselves \
     and of each other.",
    "Our next guest runs a small bakery near the harbour. She opens the doors before \
     sunrise, when the fishermen come in for coffee and warm bread. She says the secret is \
     patience, because good dough needs time to rest, and so do the people who make it.",
    "Many listeners asked how we record the show. We use two simple microphones, a quiet \
     room with heavy curtains, and a laptop that is older than my nephew. Most of the work \
     happens later, when we cut the long pauses and check every name we mention.",
    "Learning a new language as an adult can feel slow. Our guest suggests reading \
     children's books first, because the sentences are short and the pictures help. She \
     also keeps a small notebook of words she hears in shops and on the bus.",
    "A reader sent us a letter about her grandfather's garden. He planted a lemon tree the \
     year she was born, and it still gives fruit every winter. She wanted to know if we \
     could visit, and of course we said yes, so look out for that story soon.",
    "Public libraries are changing quietly. Besides books, many now lend tools, board games \
     and even musical instruments. The librarian we met told us that the most popular item \
     last month was a sewing machine, which surprised everyone on the staff.",
    "If you are thinking about starting a podcast, begin with a clear idea of who will \
     listen. Record a few practice episodes that nobody will ever hear. Then listen to \
     yourself, notice the habits you want to change, and try again the following week.",
    "The city plans to close the old bridge for repairs during the summer. Buses will take \
     a longer route along the river, and the ferry will run more often in the morning. \
     Cyclists can still cross, but they will need to walk beside their bikes.",
    "Music helps many people concentrate, but not everyone. Some of our listeners prefer \
     complete silence, while others like the sound of rain or a busy cafe. The best choice \
     seems to depend on the task, the time of day and simply on personal taste.",
];

/// Mandarin in Traditional characters, read with `cmn-latn-pinyin` (the `cmn` voice of
/// espeak-ng 1.51 reads tone digits aloud).
const MANDARIN: [&str; 4] = [
    "大家好，歡迎收聽今天的節目。今天我們要聊一聊人工智能對日常生活\
     的影響，以及它會怎樣改變我們的工作。",
    "我喜歡在週末的時候聽播客，一邊喝咖啡一邊學習新的知識。有時候我\
     也會把好聽的節目分享給朋友。",
    "台北的天氣很熱，所以我們決定去山上的茶園走一走，順便訪問幾位種\
     茶的農夫，聽他們講自己的故事。",
    "這個節目每個星期更新一次。如果你喜歡的話，請記得訂閱，並且把節\
     目分享給你的家人和朋友。",
];

/// Simplified forms of the references' Traditional characters (and one variant), so a
/// transcript in either script is compared character for character. Only characters
/// that occur in [`MANDARIN`] are listed: any other character is wrong in both scripts.
const TO_TRADITIONAL: [(char, char); 36] = [
    ('欢', '歡'),
    ('听', '聽'),
    ('节', '節'),
    ('们', '們'),
    ('对', '對'),
    ('响', '響'),
    ('会', '會'),
    ('样', '樣'),
    ('变', '變'),
    ('周', '週'),
    ('时', '時'),
    ('边', '邊'),
    ('学', '學'),
    ('习', '習'),
    ('识', '識'),
    ('给', '給'),
    ('气', '氣'),
    ('热', '熱'),
    ('决', '決'),
    ('园', '園'),
    ('顺', '順'),
    ('访', '訪'),
    ('问', '問'),
    ('几', '幾'),
    ('种', '種'),
    ('农', '農'),
    ('讲', '講'),
    ('这', '這'),
    ('个', '個'),
    ('话', '話'),
    ('请', '請'),
    ('记', '記'),
    ('订', '訂'),
    ('阅', '閱'),
    ('并', '並'),
    ('臺', '台'),
];

/// `text` with every Simplified character the references use in its Traditional form.
pub fn traditional(text: &str) -> String {
    text.chars()
        .map(|c| {
            TO_TRADITIONAL
                .iter()
                .find(|&&(from, _)| from == c)
                .map_or(c, |&(_, to)| to)
        })
        .collect()
}

/// Speaks every synthesised clip.
///
/// # Panics
/// When espeak-ng is missing or fails, or a clip comes out longer than one window: the
/// benchmark has no meaning without its audio.
pub fn synthesised() -> Vec<Clip> {
    let english = ENGLISH
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("en-{}", i + 1), "en", "en-us", *t));
    let mandarin = MANDARIN
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("zh-{}", i + 1), "zh", "cmn-latn-pinyin", *t));
    english
        .chain(mandarin)
        .map(|(name, language, voice, text)| {
            let samples = speak(voice, text);
            let clip = Clip {
                name,
                language,
                origin: Origin::Synthesised,
                text: text.to_owned(),
                samples,
            };
            assert!(
                clip.seconds() <= 30.0,
                "clip {} is {:.1} s: one Whisper window holds 30 s, shorten its text",
                clip.name,
                clip.seconds()
            );
            clip
        })
        .collect()
}

/// `text` spoken by espeak-ng's `voice`, at 16 kHz.
fn speak(voice: &str, text: &str) -> Vec<f32> {
    let output = Command::new("espeak-ng")
        .args(["-v", voice, "--stdout", text])
        .output()
        .unwrap_or_else(|e| panic!("cannot run espeak-ng ({e}): install Debian's espeak-ng"));
    assert!(
        output.status.success(),
        "espeak-ng -v {voice} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (rate, samples) = wav_samples(&output.stdout);
    to_rate(&samples, rate, RATE)
}

/// The sample rate and samples of a 16-bit mono PCM WAV stream. espeak-ng writing to a
/// pipe cannot go back to fill in the data length, so the data runs to the end.
fn wav_samples(wav: &[u8]) -> (u32, Vec<f32>) {
    assert!(
        wav.len() >= 12 && &wav[..4] == b"RIFF" && &wav[8..12] == b"WAVE",
        "not WAV"
    );
    let le16 = |at: usize| u16::from_le_bytes([wav[at], wav[at + 1]]);
    let le32 = |at: usize| u32::from_le_bytes([wav[at], wav[at + 1], wav[at + 2], wav[at + 3]]);
    let mut rate = None;
    let mut at = 12;
    while at + 8 <= wav.len() {
        let (id, len) = (&wav[at..at + 4], le32(at + 4) as usize);
        if id == b"fmt " {
            let (format, channels, bits) = (le16(at + 8), le16(at + 10), le16(at + 22));
            assert_eq!(
                (format, channels, bits),
                (1, 1, 16),
                "16-bit mono PCM expected"
            );
            rate = Some(le32(at + 12));
        } else if id == b"data" {
            let rate = rate.expect("the format chunk comes before the data");
            let samples = wav[at + 8..]
                .chunks_exact(2)
                .map(|s| f32::from(i16::from_le_bytes([s[0], s[1]])) / 32_768.0)
                .collect();
            return (rate, samples);
        }
        at += 8 + len + (len & 1);
    }
    panic!("the WAV stream has no data chunk");
}

/// Resamples by linear interpolation between neighbouring samples. espeak-ng's voices
/// carry little above 8 kHz, and both engines hear the same samples, so nothing finer is
/// needed.
fn to_rate(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || samples.len() < 2 {
        return samples.to_vec();
    }
    let out_len = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let last = samples.len() - 1;
    (0..out_len)
        .map(|n| {
            let position = n as f64 * f64::from(from) / f64::from(to);
            let i = (position as usize).min(last);
            let frac = (position - i as f64) as f32;
            let next = samples[(i + 1).min(last)];
            samples[i] + (next - samples[i]) * frac
        })
        .collect()
}

//! Topic tags: which of a category's canonical topics a text is about.
//!
//! The vocabulary is data (`data/tags/*.toml`, compiled in): per category, canonical tags
//! in Traditional Chinese, each with the Chinese and English terms that mean it
//! (投資 ← 理財, 股票, investing, stocks). A text is cut into words the way search cuts
//! it, so terms match whole words only (創業 is not found inside 首創業界), English terms
//! of several words match consecutive words, and a tag's relevance is how often its
//! terms occur.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::convert::to_taiwanese;
use super::script::is_han;
use super::tokens::{Word, words};

/// Canonical topic tags per category, with the terms that mean each tag.
#[derive(Debug)]
pub struct TagVocabulary {
    categories: Vec<Category>,
}

#[derive(Debug)]
struct Category {
    key: String,
    name: String,
    tags: Vec<Tag>,
    /// A term's indexed form (its words joined by a space) → index into `tags`.
    terms: HashMap<String, usize>,
}

#[derive(Debug)]
struct Tag {
    name: String,
    english: String,
}

/// Why a vocabulary file was refused.
#[derive(Debug, thiserror::Error)]
pub enum VocabularyError {
    #[error("tag vocabulary {file}: {source}")]
    Syntax {
        file: String,
        source: toml::de::Error,
    },
    #[error("tag vocabulary {file}: the term {term:?} of {tag} {problem}")]
    Term {
        file: String,
        tag: String,
        term: String,
        problem: &'static str,
    },
}

/// How many words a text needs before a single mention of a tag's terms stops being
/// enough: a question or a description mentions its topic once, a transcript that is
/// about a topic mentions it again and again.
const SHORT_TEXT_WORDS: usize = 200;

/// Mentions a tag needs in a longer text.
const MIN_MENTIONS_IN_LONG_TEXT: usize = 2;

/// What a mention in the title is worth, in mentions in the text.
const TITLE_BONUS: usize = 2;

/// The longest English term, in words.
const MAX_TERM_WORDS: usize = 3;

impl TagVocabulary {
    /// The vocabulary shipped in data/tags/.
    pub fn builtin() -> &'static TagVocabulary {
        static BUILTIN: LazyLock<TagVocabulary> = LazyLock::new(|| {
            TagVocabulary::from_toml(&[
                (
                    "business.toml",
                    include_str!("../../data/tags/business.toml"),
                ),
                (
                    "education.toml",
                    include_str!("../../data/tags/education.toml"),
                ),
            ])
            // The files are compiled in and checked by this module's tests.
            .expect("the built-in tag vocabulary is valid")
        });
        &BUILTIN
    }

    /// A vocabulary from TOML files, given as (file name, contents), one per category.
    ///
    /// # Errors
    /// When a file is not valid TOML of the expected shape, or a term is empty, mixes Han
    /// characters with other letters, or means two tags of one category.
    pub fn from_toml(files: &[(&str, &str)]) -> Result<Self, VocabularyError> {
        let categories = files
            .iter()
            .map(|(file, contents)| Category::parse(file, contents))
            .collect::<Result<_, _>>()?;
        Ok(Self { categories })
    }

    /// Up to `limit` canonical tags of `category` ("business", "education"; an unknown
    /// category uses every category's vocabulary) that `text` is about, most relevant first.
    pub fn tags_for(&self, category: &str, text: &str, limit: usize) -> Vec<String> {
        self.tags_for_titled(category, "", text, limit)
    }

    /// Like [`Self::tags_for`], with a title whose mentions of a tag weigh more than the
    /// text's: an episode called 「聊聊創業」 is about startups even if the word is rare in
    /// its transcript.
    pub fn tags_for_titled(
        &self,
        category: &str,
        title: &str,
        text: &str,
        limit: usize,
    ) -> Vec<String> {
        let text_words = words(text);
        let title_words = words(title);
        let min_mentions = if text_words.len() < SHORT_TEXT_WORDS {
            1
        } else {
            MIN_MENTIONS_IN_LONG_TEXT
        };

        // (score, first mention, tag name); tags of several categories count once each.
        let mut scored: Vec<(usize, usize, &str)> = Vec::new();
        for category in self.categories_for(category) {
            let in_text = category.mentions(&text_words);
            let in_title = category.mentions(&title_words);
            for (tag_index, tag) in category.tags.iter().enumerate() {
                let (count, first) = in_text.get(&tag_index).copied().unwrap_or((0, usize::MAX));
                let bonus = if in_title.contains_key(&tag_index) {
                    TITLE_BONUS
                } else {
                    0
                };
                let score = count + bonus;
                if score >= min_mentions && !scored.iter().any(|(_, _, name)| *name == tag.name) {
                    scored.push((score, first, &tag.name));
                }
            }
        }
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, _, name)| name.to_owned())
            .collect()
    }

    /// The canonical tag for a word or synonym, if the vocabulary knows it.
    pub fn canonical(&self, word: &str) -> Option<&str> {
        // Listeners may type Simplified characters; the vocabulary is Traditional.
        let key = term_key(&to_taiwanese(word.trim())).ok()?;
        self.categories.iter().find_map(|category| {
            let index = *category.terms.get(&key)?;
            Some(category.tags[index].name.as_str())
        })
    }

    /// Canonical tags of a category, for "the library covers these topics" answers.
    pub fn tags_of(&self, category: &str) -> Vec<&str> {
        self.category(category)
            .map(|category| category.tags.iter().map(|tag| tag.name.as_str()).collect())
            .unwrap_or_default()
    }

    /// The English name of a canonical tag ("投資" → "Investing"), for English answers.
    pub fn english_name(&self, tag: &str) -> Option<&str> {
        self.categories
            .iter()
            .flat_map(|category| &category.tags)
            .find(|candidate| candidate.name == tag)
            .map(|tag| tag.english.as_str())
    }

    /// Every Chinese term of every category, canonical tags included, for the word
    /// segmenter's dictionary.
    pub(crate) fn chinese_terms(&self) -> impl Iterator<Item = &str> {
        self.categories
            .iter()
            .flat_map(|category| category.terms.keys())
            .map(String::as_str)
            .filter(|term| term.chars().all(is_han))
    }

    /// A category by its key ("business") or its name ("商業"), ignoring case.
    fn category(&self, wanted: &str) -> Option<&Category> {
        let wanted = wanted.trim();
        self.categories
            .iter()
            .find(|c| c.key.eq_ignore_ascii_case(wanted) || c.name == wanted)
    }

    fn categories_for(&self, wanted: &str) -> Vec<&Category> {
        match self.category(wanted) {
            Some(category) => vec![category],
            None => self.categories.iter().collect(),
        }
    }
}

impl Category {
    fn parse(file: &str, contents: &str) -> Result<Self, VocabularyError> {
        let parsed: CategoryFile =
            toml::from_str(contents).map_err(|source| VocabularyError::Syntax {
                file: file.to_owned(),
                source,
            })?;
        let mut terms = HashMap::new();
        let mut tags = Vec::with_capacity(parsed.tag.len());
        for (index, tag) in parsed.tag.into_iter().enumerate() {
            let names = [tag.name.as_str(), tag.english.as_str()];
            for term in names
                .into_iter()
                .chain(tag.terms.iter().map(String::as_str))
            {
                let refuse = |problem| VocabularyError::Term {
                    file: file.to_owned(),
                    tag: tag.name.clone(),
                    term: term.to_owned(),
                    problem,
                };
                let key = term_key(term).map_err(refuse)?;
                match terms.insert(key, index) {
                    Some(other) if other != index => {
                        return Err(refuse("also means another tag"));
                    }
                    _ => {}
                }
            }
            tags.push(Tag {
                name: tag.name,
                english: tag.english,
            });
        }
        Ok(Self {
            key: parsed.key,
            name: parsed.name,
            tags,
            terms,
        })
    }

    /// For each tag mentioned in `words`: how many times, and at which word first.
    /// A word is one mention at most per tag, though its inner words may match too.
    fn mentions(&self, words: &[Word]) -> HashMap<usize, (usize, usize)> {
        let mut mentions: HashMap<usize, (usize, usize)> = HashMap::new();
        for at in 0..words.len() {
            let word = &words[at];
            // The words inside a word count only when the word itself means no tag:
            // 半導體產業 is about 半導體, but 毛利率 is about 財報, not 利率.
            let inner: &[String] = if self.terms.contains_key(&word.word) {
                &[]
            } else {
                &word.parts
            };
            let single = inner.iter().chain([&word.word]).cloned();
            let phrases = (2..=MAX_TERM_WORDS)
                .filter(|n| at + n <= words.len())
                .map(|n| {
                    words[at..at + n]
                        .iter()
                        .map(|w| w.word.as_str())
                        .collect::<Vec<_>>()
                })
                .map(|phrase| phrase.join(" "));
            let mut tags: Vec<usize> = single
                .chain(phrases)
                .filter_map(|key| self.terms.get(&key).copied())
                .collect();
            tags.sort_unstable();
            tags.dedup();
            for tag in tags {
                mentions
                    .entry(tag)
                    .and_modify(|(count, _)| *count += 1)
                    .or_insert((1, at));
            }
        }
        mentions
    }
}

/// A term's indexed form: a Chinese term as it is (the segmenter knows it as one word),
/// an English term as its words' indexed forms joined by a space.
fn term_key(term: &str) -> Result<String, &'static str> {
    if term.is_empty() {
        return Err("is empty");
    }
    let han = term.chars().filter(|&c| is_han(c)).count();
    if han == term.chars().count() {
        return Ok(term.to_owned());
    }
    if han > 0 {
        return Err("mixes Han characters with other characters");
    }
    let words: Vec<String> = words(term).into_iter().map(|word| word.word).collect();
    if words.is_empty() {
        return Err("has only stop words or punctuation");
    }
    Ok(words.join(" "))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    key: String,
    name: String,
    tag: Vec<TagEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagEntry {
    name: String,
    english: String,
    terms: Vec<String>,
}

#[cfg(test)]
mod tests;

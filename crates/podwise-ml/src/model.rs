//! The trained model as it serves: the episodes it knows, what each user did, the chosen
//! collaborative model and the content vectors, frozen at training time and swapped as
//! a whole. Everything here is plain computation over that snapshot, so it is tested
//! and benchmarked without a server.

use std::collections::HashMap;

use podwise_common::stores::catalog::{FeedbackEvent, FeedbackKind, Preferences};

use crate::cf::Collaborative;
use crate::content::ContentIndex;
use crate::evaluate::Evaluation;
use crate::interactions::{Interactions, Weighting};
use crate::rank;

/// How much a content match may weigh against the best collaborative score (which is
/// scaled to 1): a new episode close in content to what a listener liked ranks among
/// their collaborative picks without pushing them all out.
const CONTENT_SHARE: f32 = 0.6;
/// The user's positives considered when explaining a pick, strongest first.
const EXPLAIN_FROM: usize = 50;
/// Cold-start weights: how far stated preferences, popularity and the show's rating
/// move an episode up. A preference match outweighs popularity, popularity outweighs
/// rating.
const COLD_PREFERENCE: f32 = 1.0;
const COLD_TAG: f32 = 0.5;
const COLD_POPULARITY: f32 = 0.4;
const COLD_QUALITY: f32 = 0.2;
/// Episodes nobody has heard that are considered for content matches, newest first:
/// "new" is what content matching is for, and the cap keeps a request's cost flat as
/// the back catalogue grows.
const FRESH_CANDIDATES: usize = 2000;

/// One episode as the model knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeInfo {
    pub id: String,
    pub podcast_id: String,
    pub title: String,
    pub category_id: String,
    pub tags: Vec<String>,
    /// The show's rating scaled to 0..1, or `None` when unrated.
    pub quality: Option<f32>,
}

/// Where a recommendation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Collaborative,
    Content,
    Popularity,
    Preference,
}

/// One recommended episode with a sentence saying why.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub item: u32,
    pub score: f32,
    pub reason: String,
    pub source: Source,
}

/// What a recommendation request carries once the service has looked up the user.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub user_id: &'a str,
    pub k: usize,
    /// Only episodes of this category id.
    pub category: Option<&'a str>,
    pub exclude: &'a [String],
    /// The user's feedback as the catalog has it now (newest first is fine): events
    /// after training count too, so a dislike a second ago is already respected.
    pub recent: &'a [FeedbackEvent],
    pub preferences: &'a Preferences,
}

/// A list of picks and whether it came from the cold-start path.
#[derive(Debug, Clone, PartialEq)]
pub struct Picks {
    pub items: Vec<Pick>,
    pub cold_start: bool,
}

/// A trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub version: String,
    pub trained_at_ms: i64,
    pub weighting: Weighting,
    pub max_per_podcast: usize,
    pub episodes: Vec<EpisodeInfo>,
    /// Category id → name shown to listeners.
    pub category_names: HashMap<String, String>,
    pub users: Vec<String>,
    pub interactions: Interactions,
    /// Per user: the items they liked (sorted), for the wording of explanations.
    pub liked: Vec<Vec<u32>>,
    /// Feedback events the model was trained on.
    pub events: u64,
    pub cf: Collaborative,
    pub content: ContentIndex,
    pub evaluation: Option<Evaluation>,
    episode_index: HashMap<String, u32>,
    user_index: HashMap<String, u32>,
    /// Dense podcast index per item, for the per-podcast cap.
    podcast_of: Vec<u32>,
    /// Items sorted by cold-start appeal without preferences, for quick fallbacks.
    popular: Vec<u32>,
    /// Cold-start score of each item before preferences (popularity and quality).
    cold_base: Vec<f32>,
    /// Items by category id and by tag, for adding preference matches quickly.
    by_category: HashMap<String, Vec<u32>>,
    by_tag: HashMap<String, Vec<u32>>,
    /// Items with a content vector and no listeners, newest first, capped.
    fresh: Vec<u32>,
}

/// The parts a model is made of; [`Model::new`] derives the indices.
#[derive(Debug, Clone)]
pub struct ModelParts {
    pub version: String,
    pub trained_at_ms: i64,
    pub weighting: Weighting,
    pub max_per_podcast: usize,
    pub episodes: Vec<EpisodeInfo>,
    pub category_names: HashMap<String, String>,
    pub users: Vec<String>,
    pub interactions: Interactions,
    pub liked: Vec<Vec<u32>>,
    pub events: u64,
    pub cf: Collaborative,
    pub content: ContentIndex,
    pub evaluation: Option<Evaluation>,
}

impl Model {
    pub fn new(parts: ModelParts) -> Self {
        let episode_index = parts
            .episodes
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.clone(), i as u32))
            .collect();
        let user_index = parts
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.clone(), i as u32))
            .collect();
        let mut podcasts: HashMap<&str, u32> = HashMap::new();
        let podcast_of = parts
            .episodes
            .iter()
            .map(|e| {
                let next = podcasts.len() as u32;
                *podcasts.entry(e.podcast_id.as_str()).or_insert(next)
            })
            .collect();
        let mut model = Self {
            version: parts.version,
            trained_at_ms: parts.trained_at_ms,
            weighting: parts.weighting,
            max_per_podcast: parts.max_per_podcast.max(1),
            episodes: parts.episodes,
            category_names: parts.category_names,
            users: parts.users,
            interactions: parts.interactions,
            liked: parts.liked,
            events: parts.events,
            cf: parts.cf,
            content: parts.content,
            evaluation: parts.evaluation,
            episode_index,
            user_index,
            podcast_of,
            popular: Vec::new(),
            cold_base: Vec::new(),
            by_category: HashMap::new(),
            by_tag: HashMap::new(),
            fresh: Vec::new(),
        };
        model.index_for_serving();
        model
    }

    /// Derives what requests would otherwise recompute over every episode.
    fn index_for_serving(&mut self) {
        let most = self.cf.popularity.iter().copied().max().unwrap_or(0);
        let log_most = (1.0 + most as f32).ln().max(1.0);
        self.cold_base = self
            .episodes
            .iter()
            .zip(&self.cf.popularity)
            .map(|(episode, &count)| {
                let popularity = (1.0 + count as f32).ln() / log_most;
                COLD_POPULARITY * popularity + COLD_QUALITY * episode.quality.unwrap_or(0.5)
            })
            .collect();
        self.popular = crate::evaluate::top_k(&self.cold_base, self.cold_base.len());
        for (item, episode) in self.episodes.iter().enumerate() {
            let item = item as u32;
            self.by_category
                .entry(episode.category_id.clone())
                .or_default()
                .push(item);
            for tag in &episode.tags {
                self.by_tag.entry(tag.clone()).or_default().push(item);
            }
        }
        let mut fresh: Vec<u32> = (0..self.episodes.len() as u32)
            .filter(|&i| self.cf.popularity[i as usize] == 0 && self.content.vector(i).is_some())
            .collect();
        // Training lists episodes oldest first (see `training::train`).
        fresh.reverse();
        fresh.truncate(FRESH_CANDIDATES);
        self.fresh = fresh;
    }

    /// The model's parts, for the snapshot.
    pub fn parts(&self) -> ModelParts {
        ModelParts {
            version: self.version.clone(),
            trained_at_ms: self.trained_at_ms,
            weighting: self.weighting,
            max_per_podcast: self.max_per_podcast,
            episodes: self.episodes.clone(),
            category_names: self.category_names.clone(),
            users: self.users.clone(),
            interactions: self.interactions.clone(),
            liked: self.liked.clone(),
            events: self.events,
            cf: self.cf.clone(),
            content: self.content.clone(),
            evaluation: self.evaluation.clone(),
        }
    }

    pub fn episode(&self, item: u32) -> &EpisodeInfo {
        &self.episodes[item as usize]
    }

    pub fn item_of(&self, episode_id: &str) -> Option<u32> {
        self.episode_index.get(episode_id).copied()
    }

    /// The user's index, when they had feedback at training time.
    pub fn user_of(&self, user_id: &str) -> Option<usize> {
        self.user_index.get(user_id).map(|&u| u as usize)
    }

    /// Up to `query.k` episodes for the user, by the rules every list obeys.
    pub fn recommend(&self, query: &Query<'_>) -> Picks {
        let profile = self.profile(query);
        let excluded = |item: u32| {
            profile.seen.binary_search(&item).is_ok()
                || query
                    .category
                    .is_some_and(|c| self.episodes[item as usize].category_id != c)
        };
        if profile.positives.is_empty() {
            return Picks {
                items: self.cold_start(query, &excluded),
                cold_start: true,
            };
        }

        let n = self.episodes.len();
        let mut scores;
        if self.cf.kind == crate::cf::Candidate::Popularity {
            // Too little feedback for a personal model won the evaluation, so the cold
            // start's ranking is the best guess, and it knows the stated preferences.
            scores = self.cold_scores(query.preferences);
        } else {
            scores = vec![0.0f32; n];
            let user = if profile.changed { None } else { profile.user };
            self.cf.score_into(user, &profile.positives, &mut scores);
        }
        let best = scores.iter().copied().fold(0.0f32, f32::max);
        if best > 0.0 {
            scores.iter_mut().for_each(|s| *s /= best);
        }
        let mut from_content = vec![false; n];
        self.add_content(&profile.positives, &mut scores, &mut from_content);
        // Striking the few seen episodes out here spares a lookup per scored episode.
        for &item in &profile.seen {
            scores[item as usize] = f32::NEG_INFINITY;
        }

        let picked = rank::select(
            &scores,
            0.0,
            query.k,
            self.max_per_podcast,
            |i| self.podcast_of[i as usize],
            |i| {
                query
                    .category
                    .is_none_or(|c| self.episodes[i as usize].category_id == c)
            },
        );
        let mut items: Vec<Pick> = picked
            .into_iter()
            .map(|item| {
                let score = scores[item as usize];
                if from_content[item as usize] {
                    self.content_pick(item, score, &profile)
                } else {
                    self.collaborative_pick(item, score, &profile, query.preferences)
                }
            })
            .collect();
        if items.len() < query.k {
            self.top_up_as_cold_start(&mut items, query.k, query.preferences, &excluded);
        }
        Picks {
            items,
            cold_start: false,
        }
    }

    /// Episodes like `item`: by shared listeners and by content, whichever the model has.
    pub fn similar(&self, item: u32, k: usize) -> Vec<Pick> {
        let n = self.episodes.len();
        let mut scores = vec![0.0f32; n];
        let mut from_content = vec![false; n];
        let cf_scores = self.cf.knn.as_ref().map(|knn| {
            let mut s = vec![0.0f32; n];
            knn.score_into(&[(item, 1.0)], &mut s);
            s
        });
        if let Some(cf_scores) = &cf_scores {
            let best = cf_scores.iter().copied().fold(0.0f32, f32::max);
            for (score, &s) in scores.iter_mut().zip(cf_scores) {
                *score = if best > 0.0 { s / best } else { 0.0 };
            }
        } else if self.cf.als.is_some() {
            for (other, score) in scores.iter_mut().enumerate() {
                *score = self.cf.item_affinity(item, other as u32).max(0.0);
            }
        }
        if let Some(unit) = self.content.vector(item) {
            for (other, score) in scores.iter_mut().enumerate() {
                if let Some(cosine) = self.content.cosine(other as u32, unit) {
                    let content = CONTENT_SHARE * cosine.max(0.0);
                    if content > *score {
                        *score = content;
                        from_content[other] = true;
                    }
                }
            }
        }
        scores[item as usize] = f32::NEG_INFINITY;
        let title = &self.episodes[item as usize].title;
        let picked = rank::select(
            &scores,
            0.0,
            k,
            self.max_per_podcast,
            |i| self.podcast_of[i as usize],
            |_| true,
        );
        let mut items: Vec<Pick> = picked
            .into_iter()
            .map(|other| {
                let score = scores[other as usize];
                if from_content[other as usize] {
                    Pick {
                        item: other,
                        score,
                        reason: format!("close in content to {title}"),
                        source: Source::Content,
                    }
                } else {
                    Pick {
                        item: other,
                        score,
                        reason: format!("listeners of {title} also liked this"),
                        source: Source::Collaborative,
                    }
                }
            })
            .collect();
        if items.len() < k {
            let category = self.episodes[item as usize].category_id.clone();
            let anyone = Preferences::default();
            self.top_up_as_cold_start(&mut items, k, &anyone, &|other| {
                other == item || self.episodes[other as usize].category_id != category
            });
        }
        items
    }

    /// What the model knows about the user, with the catalog's newer events folded in.
    fn profile(&self, query: &Query<'_>) -> Profile {
        let user = self.user_of(query.user_id);
        let mut positives: Vec<(u32, f32)> = Vec::new();
        let mut seen: Vec<u32> = Vec::new();
        let mut liked: Vec<u32> = Vec::new();
        if let Some(u) = user {
            positives.extend_from_slice(self.interactions.positives(u));
            seen.extend_from_slice(self.interactions.seen(u));
            liked.extend_from_slice(&self.liked[u]);
        }
        let mut changed = false;
        let reference = self
            .trained_at_ms
            .max(query.recent.iter().map(|e| e.at).max().unwrap_or(0));
        let mut newer: HashMap<u32, f32> = HashMap::new();
        for event in query.recent {
            let Some(item) = self.item_of(&event.episode_id) else {
                continue;
            };
            seen.push(item);
            if event.kind == FeedbackKind::Liked {
                liked.push(item);
            }
            // Events the snapshot already holds are counted there; only later ones add.
            if user.is_none() || event.at > self.trained_at_ms {
                *newer.entry(item).or_default() +=
                    self.weighting.weight(event.kind, event.at, reference);
            }
        }
        for (item, weight) in newer {
            changed = true;
            match positives.iter_mut().find(|(i, _)| *i == item) {
                Some((_, w)) => *w += weight,
                None => positives.push((item, weight)),
            }
        }
        positives.retain(|&(_, w)| w > 0.0);
        for id in query.exclude {
            if let Some(item) = self.item_of(id) {
                seen.push(item);
            }
        }
        seen.sort_unstable();
        seen.dedup();
        liked.sort_unstable();
        liked.dedup();
        Profile {
            user,
            changed,
            positives,
            seen,
            liked,
        }
    }

    /// Raises episodes nobody has listened to yet towards the user's taste in content.
    fn add_content(&self, positives: &[(u32, f32)], scores: &mut [f32], from_content: &mut [bool]) {
        if self.content.is_empty() {
            return;
        }
        let Some(taste) = self.content.profile(positives) else {
            return;
        };
        for &item in &self.fresh {
            if let Some(cosine) = self.content.cosine(item, &taste) {
                let content = CONTENT_SHARE * cosine.max(0.0);
                let i = item as usize;
                if content > scores[i] {
                    scores[i] = content;
                    from_content[i] = true;
                }
            }
        }
    }

    fn collaborative_pick(
        &self,
        item: u32,
        score: f32,
        profile: &Profile,
        preferences: &Preferences,
    ) -> Pick {
        if self.cf.kind == crate::cf::Candidate::Popularity {
            // Too little feedback for a personal model won the evaluation: say so.
            return self.cold_pick(item, score, preferences);
        }
        let because = strongest(&profile.positives)
            .into_iter()
            .map(|j| (j, self.cf.item_affinity(item, j)))
            .filter(|&(_, affinity)| affinity > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(j, _)| j);
        let reason = match because {
            Some(j) => self.because(j, profile),
            None => "picked for you from listeners like you".to_owned(),
        };
        Pick {
            item,
            score,
            reason,
            source: Source::Collaborative,
        }
    }

    fn content_pick(&self, item: u32, score: f32, profile: &Profile) -> Pick {
        let because = self.content.vector(item).and_then(|unit| {
            strongest(&profile.positives)
                .into_iter()
                .filter_map(|j| self.content.cosine(j, unit).map(|c| (j, c)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(j, _)| j)
        });
        let reason = match because {
            Some(j) => format!(
                "new, and close in content to {}",
                self.episodes[j as usize].title
            ),
            None => "new, and close in content to what you listen to".to_owned(),
        };
        Pick {
            item,
            score,
            reason,
            source: Source::Content,
        }
    }

    fn because(&self, item: u32, profile: &Profile) -> String {
        let title = &self.episodes[item as usize].title;
        if profile.liked.binary_search(&item).is_ok() {
            format!("because you liked {title}")
        } else {
            format!("because you listened to {title}")
        }
    }

    /// Stated preferences, then popularity and the show's rating.
    fn cold_start(&self, query: &Query<'_>, excluded: &impl Fn(u32) -> bool) -> Vec<Pick> {
        let scores = self.cold_scores(query.preferences);
        let picked = rank::select(
            &scores,
            f32::NEG_INFINITY,
            query.k,
            self.max_per_podcast,
            |i| self.podcast_of[i as usize],
            |i| !excluded(i),
        );
        picked
            .into_iter()
            .map(|item| self.cold_pick(item, scores[item as usize], query.preferences))
            .collect()
    }

    fn cold_scores(&self, preferences: &Preferences) -> Vec<f32> {
        let mut scores = self.cold_base.clone();
        for category in &preferences.categories {
            for &item in self.by_category.get(category).into_iter().flatten() {
                scores[item as usize] += COLD_PREFERENCE;
            }
        }
        // Two matching tags count; more add nothing, so one broad tag cannot dominate.
        let mut tag_matches = vec![0u8; scores.len()];
        for tag in &preferences.tags {
            for &item in self.by_tag.get(tag).into_iter().flatten() {
                let matches = &mut tag_matches[item as usize];
                if *matches < 2 {
                    *matches += 1;
                    scores[item as usize] += COLD_TAG;
                }
            }
        }
        scores
    }

    fn cold_pick(&self, item: u32, score: f32, preferences: &Preferences) -> Pick {
        let episode = &self.episodes[item as usize];
        let (category, tags) = preference_match(episode, preferences);
        let in_category = format!("popular in {}", self.category_name(&episode.category_id));
        let (reason, source) = match (tags.first(), category) {
            (Some(tag), _) => (
                format!("matches your interest in {tag}"),
                Source::Preference,
            ),
            (None, true) => (in_category, Source::Preference),
            (None, false) => (in_category, Source::Popularity),
        };
        Pick {
            item,
            score,
            reason,
            source,
        }
    }

    /// Tops a short list up as a cold start would rank it, within the rules: episodes of
    /// the listener's stated categories and tags first, then the popular ones. A
    /// listener with one like is past the cold start, but a single like says less
    /// about them than what they chose at onboarding.
    fn top_up_as_cold_start(
        &self,
        items: &mut Vec<Pick>,
        k: usize,
        preferences: &Preferences,
        excluded: &impl Fn(u32) -> bool,
    ) {
        let mut per_podcast: HashMap<u32, usize> = HashMap::new();
        for pick in items.iter() {
            *per_podcast
                .entry(self.podcast_of[pick.item as usize])
                .or_default() += 1;
        }
        let by_preference;
        let order: &[u32] = if preferences.categories.is_empty() && preferences.tags.is_empty() {
            &self.popular
        } else {
            let scores = self.cold_scores(preferences);
            by_preference = crate::evaluate::top_k(&scores, scores.len());
            &by_preference
        };
        for &item in order {
            if items.len() >= k {
                break;
            }
            let podcast = self.podcast_of[item as usize];
            let count = per_podcast.entry(podcast).or_default();
            if excluded(item)
                || *count >= self.max_per_podcast
                || items.iter().any(|p| p.item == item)
            {
                continue;
            }
            *count += 1;
            // Below every personal pick: a filler never outranks what was chosen for them.
            items.push(Pick {
                score: 0.0,
                ..self.cold_pick(item, 0.0, preferences)
            });
        }
    }

    fn category_name<'a>(&'a self, category_id: &'a str) -> &'a str {
        self.category_names
            .get(category_id)
            .map_or(category_id, String::as_str)
    }
}

/// A user's state for one request.
struct Profile {
    user: Option<usize>,
    /// Feedback arrived after training, so the stored factors are out of date.
    changed: bool,
    positives: Vec<(u32, f32)>,
    seen: Vec<u32>,
    liked: Vec<u32>,
}

/// The items with the largest weights, for explanations.
fn strongest(positives: &[(u32, f32)]) -> Vec<u32> {
    let mut sorted = positives.to_vec();
    sorted.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    sorted.truncate(EXPLAIN_FROM);
    sorted.into_iter().map(|(i, _)| i).collect()
}

/// Whether the episode is in a preferred category, and which preferred tags it has.
fn preference_match<'a>(
    episode: &EpisodeInfo,
    preferences: &'a Preferences,
) -> (bool, Vec<&'a str>) {
    let category = preferences.categories.contains(&episode.category_id);
    let tags = preferences
        .tags
        .iter()
        .filter(|t| episode.tags.contains(t))
        .map(String::as_str)
        .collect();
    (category, tags)
}

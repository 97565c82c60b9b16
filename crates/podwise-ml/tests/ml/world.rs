//! A small world with planted structure: two taste groups, each with its own category,
//! podcasts and episodes; every listener likes episodes of their own group only. A
//! recommender that learns anything must keep each group within its own episodes.

use podwise_common::stores::catalog::{
    Catalog, Category, EpisodeSummary, FeedbackEvent, FeedbackKind, NewEpisode, Podcast,
};
use podwise_ml::content::FetchedVectors;
use podwise_ml::training::TrainingInputs;
use podwise_ml::vector::Rng;

pub const GROUPS: [&str; 2] = ["business", "education"];
pub const PODCASTS_PER_GROUP: usize = 6;
pub const EPISODES_PER_PODCAST: usize = 5;
pub const USERS_PER_GROUP: usize = 20;
pub const LIKES_PER_USER: usize = 8;
pub const DIM: usize = 8;
/// One day in milliseconds, the spacing of events.
const DAY: i64 = 86_400_000;

/// One episode of the world, with the group it belongs to.
#[derive(Debug, Clone)]
pub struct WorldEpisode {
    pub summary: EpisodeSummary,
    pub group: usize,
    /// Added after everyone listened: nobody has feedback on it.
    pub fresh: bool,
}

#[derive(Debug, Clone)]
pub struct World {
    pub episodes: Vec<WorldEpisode>,
    /// User ids by group.
    pub users: [Vec<String>; 2],
    pub events: Vec<FeedbackEvent>,
}

impl World {
    pub fn group_of(&self, episode_id: &str) -> usize {
        self.episode(episode_id).group
    }

    pub fn episode(&self, episode_id: &str) -> &WorldEpisode {
        self.episodes
            .iter()
            .find(|e| e.summary.id == episode_id)
            .unwrap_or_else(|| panic!("{episode_id} is not in the world"))
    }

    pub fn fresh_episode(&self, group: usize) -> &WorldEpisode {
        self.episodes
            .iter()
            .find(|e| e.fresh && e.group == group)
            .expect("each group has a fresh episode")
    }

    /// What a user gave feedback on.
    pub fn history(&self, user: &str) -> Vec<&FeedbackEvent> {
        self.events.iter().filter(|e| e.user_id == user).collect()
    }

    /// The world as a training reads it, with a content vector for every episode: each
    /// group's vectors point along its own axis.
    pub fn inputs(&self) -> TrainingInputs {
        TrainingInputs {
            episodes: self.episodes.iter().map(|e| e.summary.clone()).collect(),
            categories: categories(),
            events: self.events.clone(),
            vectors: FetchedVectors {
                model: "test-vectors".to_owned(),
                episodes: self
                    .episodes
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.summary.id.clone(), vector_for(e.group, i)))
                    .collect(),
            },
            now_ms: 400 * DAY,
        }
    }
}

pub fn categories() -> Vec<Category> {
    vec![
        Category {
            id: "business".into(),
            name_zh: "商業".into(),
            name_en: "Business".into(),
        },
        Category {
            id: "education".into(),
            name_zh: "教育".into(),
            name_en: "Education".into(),
        },
    ]
}

fn vector_for(group: usize, i: usize) -> Vec<f32> {
    let mut v = vec![0.05; DIM];
    v[group] = 1.0;
    v[2 + i % (DIM - 2)] += 0.2;
    v
}

/// Builds the world with made-up ids (for tests that train in memory).
pub fn two_taste_groups(seed: u64) -> World {
    build(seed, |group, podcast, episode| {
        format!("ep-{group}-{podcast}-{episode}")
    })
}

fn build(seed: u64, id: impl Fn(usize, usize, usize) -> String) -> World {
    let mut rng = Rng::new(seed);
    let mut episodes = Vec::new();
    for (group, category) in GROUPS.iter().enumerate() {
        // The last podcast of each group holds the one fresh episode.
        for podcast in 0..=PODCASTS_PER_GROUP {
            let fresh = podcast == PODCASTS_PER_GROUP;
            let count = if fresh { 1 } else { EPISODES_PER_PODCAST };
            for episode in 0..count {
                episodes.push(WorldEpisode {
                    summary: EpisodeSummary {
                        id: id(group, podcast, episode),
                        podcast_id: format!("pod-{group}-{podcast}"),
                        title: format!("{category} show {podcast} episode {episode}"),
                        category_id: (*category).to_owned(),
                        podcast_rating: Some(3.0 + (podcast % 3) as f64 * 0.5),
                        published_at: Some(episode as i64 * DAY),
                        tags: vec![format!("{category}-tag"), format!("topic-{podcast}")],
                    },
                    group,
                    fresh,
                });
            }
        }
    }
    let mut users: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let mut events = Vec::new();
    let mut at = 100 * DAY;
    for (group, members) in users.iter_mut().enumerate() {
        let own: Vec<&WorldEpisode> = episodes
            .iter()
            .filter(|e| e.group == group && !e.fresh)
            .collect();
        for u in 0..USERS_PER_GROUP {
            let user = format!("user-{group}-{u}");
            let mut order: Vec<usize> = (0..own.len()).collect();
            rng.shuffle(&mut order);
            for (n, &i) in order.iter().take(LIKES_PER_USER).enumerate() {
                let kind = match n % 3 {
                    0 => FeedbackKind::Liked,
                    1 => FeedbackKind::Completed,
                    _ => FeedbackKind::PreviewPlayed,
                };
                at += 60_000;
                events.push(FeedbackEvent {
                    user_id: user.clone(),
                    episode_id: own[i].summary.id.clone(),
                    kind,
                    at,
                });
            }
            members.push(user);
        }
    }
    World {
        episodes,
        users,
        events,
    }
}

/// Writes the same kind of world into a catalog (with the catalog's own ids for users
/// and episodes, and feedback stamped now) and returns it as written.
pub async fn populate(catalog: &Catalog, seed: u64) -> World {
    let plan = two_taste_groups(seed);
    let mut ids = std::collections::HashMap::new();
    for (group, category) in GROUPS.iter().enumerate() {
        for podcast in 0..=PODCASTS_PER_GROUP {
            catalog
                .upsert_podcast(&Podcast {
                    id: format!("pod-{group}-{podcast}"),
                    title: format!("{category} show {podcast}"),
                    author: "tester".into(),
                    description: String::new(),
                    category_id: (*category).to_owned(),
                    language: "zh-TW".into(),
                    image_url: None,
                    rss_url: None,
                    rating: Some(3.0 + (podcast % 3) as f64 * 0.5),
                })
                .await
                .expect("podcast");
        }
    }
    let mut episodes = Vec::new();
    for planned in &plan.episodes {
        let s = &planned.summary;
        let id = catalog
            .upsert_episode(&NewEpisode {
                podcast_id: s.podcast_id.clone(),
                guid: s.id.clone(),
                title: s.title.clone(),
                description: String::new(),
                published_at: s.published_at,
                duration_ms: Some(600_000),
                language: "zh-TW".into(),
                audio_key: None,
                preview_key: None,
                tags: s.tags.clone(),
            })
            .await
            .expect("episode");
        ids.insert(s.id.clone(), id.clone());
        let mut written = planned.clone();
        written.summary.id = id;
        episodes.push(written);
    }
    let mut users: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let mut user_ids = std::collections::HashMap::new();
    for (group, members) in plan.users.iter().enumerate() {
        for planned in members {
            let issued = catalog.create_user().await.expect("user");
            user_ids.insert(planned.clone(), issued.user_id.clone());
            users[group].push(issued.user_id);
        }
    }
    let mut events = Vec::new();
    for event in &plan.events {
        let written = catalog
            .record_feedback(
                &user_ids[&event.user_id],
                &ids[&event.episode_id],
                event.kind,
            )
            .await
            .expect("feedback");
        events.push(written);
    }
    World {
        episodes,
        users,
        events,
    }
}

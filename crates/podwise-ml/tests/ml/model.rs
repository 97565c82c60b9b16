//! The model trained in memory: what listeners of each group get, and the rules every
//! list obeys.

use podwise_common::settings::MlSettings;
use podwise_common::stores::catalog::{FeedbackEvent, FeedbackKind, Preferences};
use podwise_common::testing::settings_with;
use podwise_ml::model::{Model, Picks, Query, Source};
use podwise_ml::{snapshot, training};

use crate::world::{USERS_PER_GROUP, World, two_taste_groups};

fn settings() -> MlSettings {
    settings_with(&[]).ml
}

fn trained(world: &World) -> Model {
    training::train(world.inputs(), &settings())
}

fn recommend(model: &Model, user: &str, k: usize) -> Picks {
    recommend_with(model, user, k, None, &[], &Preferences::default())
}

fn recommend_with(
    model: &Model,
    user: &str,
    k: usize,
    category: Option<&str>,
    recent: &[FeedbackEvent],
    preferences: &Preferences,
) -> Picks {
    model.recommend(&Query {
        user_id: user,
        k,
        category,
        exclude: &[],
        recent,
        preferences,
    })
}

#[test]
fn listeners_get_episodes_of_their_own_taste_group() {
    let world = two_taste_groups(1);
    let model = trained(&world);

    let mut own = 0;
    let mut total = 0;
    for (group, users) in world.users.iter().enumerate() {
        for user in users {
            let picks = recommend(&model, user, 5);
            assert!(!picks.cold_start, "{user} has feedback");
            assert_eq!(picks.items.len(), 5);
            for pick in &picks.items {
                total += 1;
                if world.group_of(&model.episode(pick.item).id) == group {
                    own += 1;
                }
            }
        }
    }
    assert!(
        own * 100 >= total * 95,
        "{own} of {total} from the listener's own group"
    );
    let chosen = model.evaluation.as_ref().map(|e| e.chosen.as_str());
    assert_ne!(
        chosen,
        Some("popularity"),
        "a personal model must beat popularity here"
    );
}

#[test]
fn a_list_holds_one_episode_per_podcast_and_nothing_already_heard() {
    let world = two_taste_groups(2);
    let model = trained(&world);

    for user in world.users.iter().flatten() {
        let picks = recommend(&model, user, 6);
        let mut podcasts: Vec<&str> = picks
            .items
            .iter()
            .map(|p| model.episode(p.item).podcast_id.as_str())
            .collect();
        let listed = podcasts.len();
        podcasts.sort_unstable();
        podcasts.dedup();
        assert_eq!(
            podcasts.len(),
            listed,
            "two episodes of one podcast for {user}"
        );
        for event in world.history(user) {
            assert!(
                picks
                    .items
                    .iter()
                    .all(|p| model.episode(p.item).id != event.episode_id),
                "{user} was offered {} again",
                event.episode_id
            );
        }
    }
}

#[test]
fn an_episode_disliked_or_finished_after_training_is_not_offered() {
    let world = two_taste_groups(3);
    let model = trained(&world);
    let user = &world.users[0][0];
    let before = recommend(&model, user, 3);
    let first = model.episode(before.items[0].item).id.clone();
    let second = model.episode(before.items[1].item).id.clone();

    let later = model.trained_at_ms + 1000;
    let recent = [
        FeedbackEvent {
            user_id: user.clone(),
            episode_id: first.clone(),
            kind: FeedbackKind::Disliked,
            at: later,
        },
        FeedbackEvent {
            user_id: user.clone(),
            episode_id: second.clone(),
            kind: FeedbackKind::Completed,
            at: later,
        },
    ];
    let after = recommend_with(&model, user, 10, None, &recent, &Preferences::default());

    let ids: Vec<&str> = after
        .items
        .iter()
        .map(|p| model.episode(p.item).id.as_str())
        .collect();
    assert!(
        !ids.contains(&first.as_str()),
        "the disliked episode came back: {ids:?}"
    );
    assert!(
        !ids.contains(&second.as_str()),
        "the finished episode came back: {ids:?}"
    );
}

#[test]
fn the_category_filter_keeps_only_that_category() {
    let world = two_taste_groups(4);
    let model = trained(&world);
    let user = &world.users[0][1];

    let picks = recommend_with(
        &model,
        user,
        5,
        Some("education"),
        &[],
        &Preferences::default(),
    );

    assert!(!picks.items.is_empty());
    for pick in &picks.items {
        assert_eq!(model.episode(pick.item).category_id, "education");
    }
}

#[test]
fn every_pick_says_why_in_words_naming_what_the_listener_did() {
    let world = two_taste_groups(5);
    let model = trained(&world);
    let user = &world.users[1][2];
    let heard: Vec<String> = world
        .history(user)
        .iter()
        .map(|e| world.episode(&e.episode_id).summary.title.clone())
        .collect();

    let picks = recommend(&model, user, 5);

    for pick in picks
        .items
        .iter()
        .filter(|p| p.source == Source::Collaborative)
    {
        let named = heard
            .iter()
            .any(|title| pick.reason.ends_with(title.as_str()));
        assert!(
            pick.reason.starts_with("because you ") && named,
            "unexplained: {:?}",
            pick.reason
        );
    }
}

#[test]
fn an_unknown_listener_gets_popular_episodes_and_their_stated_preferences_first() {
    let world = two_taste_groups(6);
    let model = trained(&world);

    let plain = recommend(&model, "nobody-knows-me", 4);
    assert!(plain.cold_start);
    assert_eq!(plain.items.len(), 4);
    assert!(
        plain
            .items
            .iter()
            .all(|p| p.reason.starts_with("popular in "))
    );

    let preferences = Preferences {
        categories: vec!["education".into()],
        tags: vec!["topic-2".into()],
    };
    let picks = recommend_with(&model, "nobody-knows-me", 4, None, &[], &preferences);

    assert!(picks.cold_start);
    for pick in &picks.items {
        assert_eq!(model.episode(pick.item).category_id, "education");
        assert_eq!(pick.source, Source::Preference);
    }
    let first = &picks.items[0];
    assert!(
        model
            .episode(first.item)
            .tags
            .contains(&"topic-2".to_owned())
    );
    assert_eq!(first.reason, "matches your interest in topic-2");
    let by_category = picks.items.iter().find(|p| !p.reason.contains("topic-2"));
    assert_eq!(
        by_category.map(|p| p.reason.as_str()),
        Some("popular in 教育")
    );
}

#[test]
fn a_new_episode_nobody_heard_reaches_listeners_of_similar_content() {
    let world = two_taste_groups(7);
    let model = trained(&world);
    let fresh = &world.fresh_episode(0).summary.id;
    let other = &world.fresh_episode(1).summary.id;

    let mut reached = 0;
    for user in &world.users[0] {
        let picks = recommend(&model, user, 7);
        let ids: Vec<&str> = picks
            .items
            .iter()
            .map(|p| model.episode(p.item).id.as_str())
            .collect();
        assert!(
            !ids.contains(&other.as_str()),
            "{user} got the other group's new episode"
        );
        if let Some(pick) = picks
            .items
            .iter()
            .find(|p| model.episode(p.item).id == *fresh)
        {
            assert_eq!(pick.source, Source::Content);
            assert!(pick.reason.starts_with("new, and close in content to "));
            reached += 1;
        }
    }
    assert!(
        reached >= USERS_PER_GROUP * 3 / 4,
        "only {reached} listeners were offered it"
    );
}

#[test]
fn similar_episodes_come_from_the_same_group_and_never_the_episode_itself() {
    let world = two_taste_groups(8);
    let model = trained(&world);
    let episode = &world.episodes[3].summary.id;
    let item = model.item_of(episode).expect("known");

    let similar = model.similar(item, 5);

    assert_eq!(similar.len(), 5);
    for pick in &similar {
        let id = &model.episode(pick.item).id;
        assert_ne!(id, episode);
        assert_eq!(world.group_of(id), 0, "{id} is from the other group");
    }
}

#[test]
fn a_snapshot_reads_back_as_the_same_model() {
    let world = two_taste_groups(9);
    let model = trained(&world);

    let bytes = snapshot::encode(&model);
    let restored = snapshot::decode(&bytes).expect("readable");

    assert_eq!(restored, model);
    let user = &world.users[0][0];
    assert_eq!(recommend(&restored, user, 5), recommend(&model, user, 5));
    assert!(
        snapshot::decode(&bytes[..bytes.len() / 2]).is_err(),
        "a cut snapshot"
    );
    assert!(snapshot::decode(b"not a model").is_err());
}

#[test]
fn a_listener_who_joined_after_training_gets_personal_picks_from_their_first_likes() {
    let world = two_taste_groups(10);
    let model = trained(&world);
    let later = model.trained_at_ms + 60_000;
    let liked: Vec<FeedbackEvent> = world
        .episodes
        .iter()
        .filter(|e| e.group == 1 && !e.fresh)
        .take(3)
        .map(|e| FeedbackEvent {
            user_id: "joined-today".into(),
            episode_id: e.summary.id.clone(),
            kind: FeedbackKind::Liked,
            at: later,
        })
        .collect();

    let picks = recommend_with(
        &model,
        "joined-today",
        4,
        None,
        &liked,
        &Preferences::default(),
    );

    assert!(!picks.cold_start);
    assert_eq!(picks.items.len(), 4);
    for pick in &picks.items {
        let id = &model.episode(pick.item).id;
        assert_eq!(world.group_of(id), 1, "{id} is from the other group");
        assert!(
            liked.iter().all(|e| &e.episode_id != id),
            "{id} was liked already"
        );
    }
}

#[test]
fn with_too_little_feedback_for_a_personal_model_picks_say_they_are_popular() {
    // Two listeners with one like each: nothing can be held out, so popularity serves.
    let mut world = two_taste_groups(12);
    let first = world.events[0].clone();
    let second = world
        .events
        .iter()
        .find(|e| e.user_id != first.user_id)
        .cloned()
        .expect("a second listener");
    world.events = vec![first.clone(), second];
    // No content vectors either, so nothing personal is left to say.
    let mut inputs = world.inputs();
    inputs.vectors = Default::default();
    let model = training::train(inputs, &settings());
    assert_eq!(model.cf.kind.as_str(), "popularity");

    let picks = recommend(&model, &first.user_id, 3);

    assert!(!picks.cold_start);
    for pick in &picks.items {
        assert_eq!(pick.source, Source::Popularity);
        assert!(pick.reason.starts_with("popular in "), "{:?}", pick.reason);
    }

    // The same listener, who chose a category at onboarding, gets it first.
    let preferences = Preferences {
        categories: vec!["education".into()],
        tags: vec!["topic-1".into()],
    };
    let picks = recommend_with(&model, &first.user_id, 3, None, &[], &preferences);

    assert!(!picks.cold_start);
    assert_eq!(picks.items.len(), 3);
    for pick in &picks.items {
        assert_eq!(model.episode(pick.item).category_id, "education");
        assert_eq!(pick.source, Source::Preference, "{:?}", pick.reason);
    }
    assert_eq!(picks.items[0].reason, "matches your interest in topic-1");
}

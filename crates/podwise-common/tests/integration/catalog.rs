//! The catalog conformance suite: each test runs on SQLite and on PostgreSQL.

use std::collections::HashSet;
use std::time::Duration;

use podwise_common::stores::StoreError;
use podwise_common::stores::catalog::{
    Catalog, FeedbackKind, JobKind, JobState, NewEpisode, NewJob, Page, Podcast, Preferences,
    RetryPolicy, TranscriptStatus,
};
use podwise_common::testing::{dev_server_settings, settings_with};
use secrecy::ExposeSecret as _;
use sqlx::Connection as _;
use tempfile::TempDir;

struct Fixture {
    catalog: Catalog,
    _dir: TempDir,
}

async fn sqlite() -> Fixture {
    let dir = TempDir::new().expect("temp dir");
    let settings = settings_with(&[("PODWISE_DATA_DIR", dir.path().to_str().expect("utf-8"))]);
    let catalog = Catalog::open(&settings)
        .await
        .expect("sqlite catalog opens");
    assert_eq!(catalog.adapter(), "sqlite");
    Fixture { catalog, _dir: dir }
}

/// A PostgreSQL catalog in a database of its own, created for this test.
async fn postgres() -> Option<Fixture> {
    let settings = fresh_postgres_settings().await?;
    let catalog = Catalog::open(&settings)
        .await
        .expect("postgres catalog opens");
    assert_eq!(catalog.adapter(), "postgres");
    Some(Fixture {
        catalog,
        _dir: TempDir::new().expect("temp dir"),
    })
}

/// Settings naming a new, empty database on the dev PostgreSQL server.
async fn fresh_postgres_settings() -> Option<podwise_common::Settings> {
    let mut settings = dev_server_settings("catalog (PostgreSQL)", "POSTGRES_HOST")?;
    let admin_url = settings.postgres.connection_url();
    let mut admin = sqlx::PgConnection::connect(admin_url.expose_secret())
        .await
        .expect("connect to the dev PostgreSQL");
    let database = format!("test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    settings.postgres.db = database;
    Some(settings)
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::sqlite().await.catalog).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(fixture) = super::postgres().await {
                        super::$test(fixture.catalog).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    the_schema_comes_with_the_starting_categories,
    an_episode_ingested_twice_is_stored_once,
    an_episode_of_an_unknown_podcast_is_refused,
    a_podcast_in_an_unknown_category_is_refused,
    search_matches_titles_descriptions_and_shows_in_any_case,
    tags_are_offered_most_used_first_within_the_category,
    previews_for_a_tag_come_from_different_podcasts,
    a_listener_token_works_until_revoked,
    preferences_are_replaced_as_a_whole,
    feedback_about_an_unknown_episode_is_refused_and_not_stored,
    feedback_history_is_newest_first_and_exports_for_the_recommender,
    a_job_is_retried_with_back_off_then_marked_failed,
    a_claimed_job_is_never_handed_out_twice,
    a_job_whose_worker_went_silent_is_queued_again,
    the_transcript_status_follows_the_pipeline,
    indexed_episodes_are_listed_oldest_first_from_a_time,
);

fn podcast(id: &str, title: &str, category: &str, rating: Option<f64>) -> Podcast {
    Podcast {
        id: id.to_owned(),
        title: title.to_owned(),
        author: "Podwise tests".to_owned(),
        description: format!("about {title}"),
        category_id: category.to_owned(),
        language: "zh-TW".to_owned(),
        image_url: None,
        rss_url: Some(format!("https://example.test/{id}.rss")),
        rating,
    }
}

fn episode(
    podcast_id: &str,
    guid: &str,
    title: &str,
    published_at: i64,
    tags: &[&str],
) -> NewEpisode {
    NewEpisode {
        podcast_id: podcast_id.to_owned(),
        guid: guid.to_owned(),
        title: title.to_owned(),
        description: String::new(),
        published_at: Some(published_at),
        duration_ms: Some(600_000),
        language: "zh-TW".to_owned(),
        audio_key: Some(format!("audio/{podcast_id}/{guid}.mp3")),
        preview_key: Some(format!("previews/{podcast_id}/{guid}.mp3")),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    }
}

/// A podcast with one episode, for tests about listeners and jobs.
async fn one_episode(catalog: &Catalog) -> String {
    catalog
        .upsert_podcast(&podcast("show", "Show", "business", None))
        .await
        .expect("podcast");
    catalog
        .upsert_episode(&episode("show", "ep-1", "Episode one", 1_000, &["投資"]))
        .await
        .expect("episode")
}

async fn the_schema_comes_with_the_starting_categories(catalog: Catalog) {
    catalog.check().await.expect("ready");
    catalog
        .check()
        .await
        .expect("migrating again changes nothing");

    let categories = catalog.categories().await.expect("categories");

    let ids: Vec<&str> = categories.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["business", "education"]);
    assert_eq!(categories[0].name_zh, "商業");
}

async fn an_episode_ingested_twice_is_stored_once(catalog: Catalog) {
    catalog
        .upsert_podcast(&podcast("p1", "財經早餐", "business", Some(4.5)))
        .await
        .expect("podcast");
    let first = episode("p1", "guid-1", "第一集", 1_000, &["投資", "理財"]);
    let mut again = first.clone();
    again.title = "第一集（修訂）".to_owned();
    again.tags = vec!["投資".to_owned(), " 股票 ".to_owned(), "投資".to_owned()];
    again.preview_key = None;

    let id = catalog.upsert_episode(&first).await.expect("first ingest");
    let same = catalog.upsert_episode(&again).await.expect("second ingest");

    assert_eq!(id, same);
    let stored = catalog
        .episodes_of("p1", Page::first(10))
        .await
        .expect("list");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].title, "第一集（修訂）");
    assert_eq!(stored[0].tags, ["投資", "股票"]);
    assert_eq!(
        stored[0].preview_key.as_deref(),
        Some("previews/p1/guid-1.mp3"),
        "a re-ingest without a preview keeps the one already cut"
    );
    assert_eq!(catalog.episode(&id).await.expect("by id"), stored[0]);
}

async fn an_episode_of_an_unknown_podcast_is_refused(catalog: Catalog) {
    let refused = catalog
        .upsert_episode(&episode("nobody", "g", "Orphan", 1, &[]))
        .await;

    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    let missing = catalog.episode("no-such-episode").await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

async fn a_podcast_in_an_unknown_category_is_refused(catalog: Catalog) {
    let refused = catalog
        .upsert_podcast(&podcast("p1", "Nowhere", "astrology", None))
        .await;

    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    let missing = catalog.podcast("p1").await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

async fn search_matches_titles_descriptions_and_shows_in_any_case(catalog: Catalog) {
    catalog
        .upsert_podcast(&podcast("biz", "Money Talk", "business", None))
        .await
        .expect("podcast");
    catalog
        .upsert_podcast(&podcast("edu", "學習之道", "education", None))
        .await
        .expect("podcast");
    let mut described = episode("edu", "e1", "第三集", 3, &[]);
    described.description = "談 100% 專注的方法".to_owned();
    catalog.upsert_episode(&described).await.expect("episode");
    catalog
        .upsert_episode(&episode("biz", "b1", "Index funds explained", 1, &[]))
        .await
        .expect("episode");
    catalog
        .upsert_episode(&episode("biz", "b2", "台股 outlook", 2, &[]))
        .await
        .expect("episode");
    let titles = |found: Vec<podwise_common::stores::catalog::Episode>| -> Vec<String> {
        found.into_iter().map(|e| e.title).collect()
    };
    let page = Page::first(10);

    let by_title = catalog
        .search_episodes("INDEX FUNDS", None, page)
        .await
        .expect("search");
    let by_show = catalog
        .search_episodes("money talk", None, page)
        .await
        .expect("search");
    let by_description = catalog
        .search_episodes("專注", None, page)
        .await
        .expect("search");
    let literal_percent = catalog
        .search_episodes("100%", None, page)
        .await
        .expect("search");
    let wildcard_is_literal = catalog
        .search_episodes("%", None, page)
        .await
        .expect("search");
    let in_education = catalog
        .search_episodes("talk", Some("education"), page)
        .await
        .expect("search");

    assert_eq!(titles(by_title), ["Index funds explained"]);
    assert_eq!(titles(by_show), ["台股 outlook", "Index funds explained"]);
    assert_eq!(titles(by_description), ["第三集"]);
    assert_eq!(titles(literal_percent), ["第三集"]);
    assert_eq!(titles(wildcard_is_literal), ["第三集"]);
    assert!(in_education.is_empty());
}

async fn tags_are_offered_most_used_first_within_the_category(catalog: Catalog) {
    catalog
        .upsert_podcast(&podcast("biz", "Biz", "business", None))
        .await
        .expect("podcast");
    catalog
        .upsert_podcast(&podcast("edu", "Edu", "education", None))
        .await
        .expect("podcast");
    for (guid, tags) in [
        ("1", vec!["投資", "創業"]),
        ("2", vec!["投資"]),
        ("3", vec!["行銷"]),
    ] {
        catalog
            .upsert_episode(&episode("biz", guid, guid, 1, &tags))
            .await
            .expect("episode");
    }
    catalog
        .upsert_episode(&episode("edu", "x", "x", 1, &["語言"]))
        .await
        .expect("episode");

    let tags = catalog
        .tags_in_category("business", 10)
        .await
        .expect("tags");

    let listed: Vec<(&str, i64)> = tags.iter().map(|t| (t.tag.as_str(), t.episodes)).collect();
    assert_eq!(listed, [("投資", 2), ("創業", 1), ("行銷", 1)]);
    assert_eq!(
        catalog
            .tags_in_category("business", 1)
            .await
            .expect("tags")
            .len(),
        1
    );
}

async fn previews_for_a_tag_come_from_different_podcasts(catalog: Catalog) {
    for show in ["a", "b", "c", "d"] {
        catalog
            .upsert_podcast(&podcast(show, show, "business", None))
            .await
            .expect("podcast");
    }
    let mut episodes = vec![
        episode("a", "a-old", "a old", 10, &["投資"]),
        episode("a", "a-new", "a new", 50, &["投資"]),
        episode("b", "b-1", "b one", 40, &["投資"]),
        episode("c", "c-1", "c one", 30, &["投資"]),
        episode("d", "d-1", "d one", 60, &["創業"]),
    ];
    let mut no_preview = episode("c", "c-2", "c no preview", 99, &["投資"]);
    no_preview.preview_key = None;
    episodes.push(no_preview);
    for e in &episodes {
        catalog.upsert_episode(e).await.expect("episode");
    }

    let previews = catalog.previews_for_tag("投資", 3).await.expect("previews");

    let titles: Vec<&str> = previews.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["a new", "b one", "c one"]);
    let podcasts: HashSet<&str> = previews.iter().map(|e| e.podcast_id.as_str()).collect();
    assert_eq!(podcasts.len(), 3);
    assert_eq!(
        catalog
            .previews_for_tag("投資", 2)
            .await
            .expect("previews")
            .len(),
        2
    );
}

async fn a_listener_token_works_until_revoked(catalog: Catalog) {
    let alice = catalog.create_user().await.expect("user");
    let bob = catalog.create_user().await.expect("user");
    let alice_token = alice.token.expose_secret().to_owned();

    assert_ne!(alice.user_id, bob.user_id);
    assert_ne!(alice_token, bob.token.expose_secret());
    assert!(alice_token.len() >= 32, "tokens carry enough entropy");
    assert_eq!(
        catalog.authenticate(&alice_token).await.expect("auth"),
        Some(alice.user_id.clone())
    );
    assert_eq!(catalog.authenticate("made-up").await.expect("auth"), None);

    catalog.revoke_token(&alice_token).await.expect("revoke");
    catalog
        .revoke_token(&alice_token)
        .await
        .expect("revoking twice");

    assert_eq!(
        catalog.authenticate(&alice_token).await.expect("auth"),
        None
    );
    let bob_token = bob.token.expose_secret();
    assert_eq!(
        catalog.authenticate(bob_token).await.expect("auth"),
        Some(bob.user_id)
    );
}

async fn preferences_are_replaced_as_a_whole(catalog: Catalog) {
    let user = catalog.create_user().await.expect("user").user_id;
    let first = Preferences {
        categories: vec!["business".into(), "education".into()],
        tags: vec!["投資".into(), "創業".into(), "投資".into()],
    };
    let second = Preferences {
        categories: vec!["education".into()],
        tags: vec!["語言".into()],
    };

    catalog.set_preferences(&user, &first).await.expect("set");
    let stored_first = catalog.preferences(&user).await.expect("get");
    catalog
        .set_preferences(&user, &second)
        .await
        .expect("replace");
    let bad = Preferences {
        categories: vec!["astrology".into()],
        tags: vec![],
    };
    let refused = catalog.set_preferences(&user, &bad).await;

    assert_eq!(stored_first.categories, ["business", "education"]);
    assert_eq!(stored_first.tags, ["創業", "投資"]);
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(catalog.preferences(&user).await.expect("get"), second);
    let unknown = catalog.preferences("no-such-user").await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn feedback_about_an_unknown_episode_is_refused_and_not_stored(catalog: Catalog) {
    one_episode(&catalog).await;
    let user = catalog.create_user().await.expect("user").user_id;

    let refused = catalog
        .record_feedback(&user, "no-such-episode", FeedbackKind::Liked)
        .await;
    let unknown_user = catalog
        .record_feedback("no-such-user", "no-such-episode", FeedbackKind::Liked)
        .await;

    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "{refused:?}"
    );
    assert!(
        matches!(unknown_user, Err(StoreError::NotFound(_))),
        "{unknown_user:?}"
    );
    assert!(catalog.interactions().await.expect("export").is_empty());
}

async fn feedback_history_is_newest_first_and_exports_for_the_recommender(catalog: Catalog) {
    let episode_id = one_episode(&catalog).await;
    let user = catalog.create_user().await.expect("user").user_id;
    let other = catalog.create_user().await.expect("user").user_id;

    let kinds = [
        FeedbackKind::PreviewPlayed,
        FeedbackKind::Liked,
        FeedbackKind::Skipped,
    ];
    for kind in kinds {
        catalog
            .record_feedback(&user, &episode_id, kind)
            .await
            .expect("feedback");
        // Distinct timestamps, so "newest first" has one right answer.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    catalog
        .record_feedback(&other, &episode_id, FeedbackKind::Disliked)
        .await
        .expect("feedback");

    let history = catalog
        .feedback_history(&user, Page::first(10))
        .await
        .expect("history");
    let exported = catalog.interactions().await.expect("export");

    let history_kinds: Vec<FeedbackKind> = history.iter().map(|e| e.kind).collect();
    assert_eq!(
        history_kinds,
        [
            FeedbackKind::Skipped,
            FeedbackKind::Liked,
            FeedbackKind::PreviewPlayed
        ]
    );
    assert_eq!(exported.len(), 4);
    assert!(
        exported.windows(2).all(|w| w[0].at <= w[1].at),
        "oldest first"
    );
    assert_eq!(exported[3].user_id, other);
}

const RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 2,
    first_delay: Duration::ZERO,
};

fn feed_job(source: &str) -> NewJob {
    NewJob {
        kind: JobKind::Feed,
        source: source.to_owned(),
        parent_id: None,
        podcast_id: None,
        episode_id: None,
    }
}

async fn a_job_is_retried_with_back_off_then_marked_failed(catalog: Catalog) {
    let job = catalog
        .create_job(&feed_job("feeds/demo.xml"))
        .await
        .expect("queue");
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));

    let claimed = catalog
        .claim_next_job(&[JobKind::Feed])
        .await
        .expect("claim")
        .expect("a job");
    catalog
        .set_job_stage(&claimed.id, "download")
        .await
        .expect("stage");
    let after_first = catalog
        .fail_job(&claimed.id, "feed unreachable", RETRY)
        .await
        .expect("fail");
    let retried = catalog
        .claim_next_job(&[JobKind::Feed])
        .await
        .expect("claim")
        .expect("again");
    let after_second = catalog
        .fail_job(&retried.id, "still unreachable", RETRY)
        .await
        .expect("fail");

    assert_eq!((claimed.state, claimed.attempts), (JobState::Running, 1));
    assert_eq!(after_first, JobState::Queued);
    assert_eq!(
        (retried.id.as_str(), retried.attempts),
        (job.id.as_str(), 2)
    );
    assert_eq!(after_second, JobState::Failed);
    let stored = catalog.job(&job.id).await.expect("job");
    assert_eq!(stored.state, JobState::Failed);
    assert_eq!(stored.last_error.as_deref(), Some("still unreachable"));
    assert!(
        catalog
            .claim_next_job(&[JobKind::Feed])
            .await
            .expect("claim")
            .is_none()
    );
    let failed = catalog
        .jobs(Some(JobState::Failed), None, Page::first(10))
        .await
        .expect("list");
    assert_eq!(failed.len(), 1);
    let missing = catalog.job("no-such-job").await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let delayed = catalog
        .create_job(&feed_job("feeds/slow.xml"))
        .await
        .expect("queue");
    let slow = RetryPolicy {
        max_attempts: 5,
        first_delay: Duration::from_secs(3600),
    };
    let claimed = catalog
        .claim_next_job(&[JobKind::Feed])
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(claimed.id, delayed.id);
    catalog
        .fail_job(&claimed.id, "timeout", slow)
        .await
        .expect("fail");
    assert!(
        catalog
            .claim_next_job(&[JobKind::Feed])
            .await
            .expect("claim")
            .is_none(),
        "a job backing off is not handed out early"
    );
}

async fn a_claimed_job_is_never_handed_out_twice(catalog: Catalog) {
    let parent = catalog
        .create_job(&feed_job("feeds/big.xml"))
        .await
        .expect("parent");
    for n in 0..12 {
        let child = NewJob {
            kind: JobKind::Episode,
            source: format!("guid-{n}"),
            parent_id: Some(parent.id.clone()),
            ..feed_job("")
        };
        catalog.create_job(&child).await.expect("child");
    }

    let workers: Vec<_> = (0..3)
        .map(|_| {
            let catalog = catalog.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut idle = 0;
                while idle < 3 {
                    match catalog
                        .claim_next_job(&[JobKind::Episode])
                        .await
                        .expect("claim")
                    {
                        Some(job) => mine.push(job.id),
                        None => idle += 1,
                    }
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.expect("worker"));
    }

    let distinct: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), 12, "every job claimed exactly once");
    assert_eq!(distinct.len(), 12);
    let children = catalog
        .jobs(Some(JobState::Running), Some(&parent.id), Page::first(50))
        .await
        .expect("list");
    assert_eq!(children.len(), 12);
}

async fn a_job_whose_worker_went_silent_is_queued_again(catalog: Catalog) {
    let job = catalog
        .create_job(&feed_job("feeds/a.xml"))
        .await
        .expect("queue");
    catalog
        .claim_next_job(&[JobKind::Feed])
        .await
        .expect("claim")
        .expect("job");

    let fresh = catalog
        .requeue_stale_jobs(Duration::from_secs(600))
        .await
        .expect("requeue");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stale = catalog
        .requeue_stale_jobs(Duration::from_millis(10))
        .await
        .expect("requeue");

    assert_eq!((fresh, stale), (0, 1));
    let job = catalog.job(&job.id).await.expect("job");
    assert_eq!(job.state, JobState::Queued);
    let finished = catalog.succeed_job(&job.id, None).await;
    assert!(
        matches!(finished, Err(StoreError::NotFound(_))),
        "only running jobs finish"
    );
    let claimed = catalog
        .claim_next_job(&[JobKind::Feed])
        .await
        .expect("claim")
        .expect("job");
    catalog
        .succeed_job(&claimed.id, None)
        .await
        .expect("succeed");
    assert_eq!(
        catalog.job(&job.id).await.expect("job").state,
        JobState::Succeeded
    );
}

async fn the_transcript_status_follows_the_pipeline(catalog: Catalog) {
    let id = one_episode(&catalog).await;
    assert_eq!(
        catalog
            .episode(&id)
            .await
            .expect("episode")
            .transcript_status,
        TranscriptStatus::Pending
    );

    catalog
        .set_transcript_status(&id, TranscriptStatus::Done)
        .await
        .expect("status");

    assert_eq!(
        catalog
            .episode(&id)
            .await
            .expect("episode")
            .transcript_status,
        TranscriptStatus::Done
    );
    let unknown = catalog
        .set_transcript_status("nope", TranscriptStatus::Done)
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

// Adapter-specific behaviour.

#[tokio::test]
async fn two_local_processes_share_one_catalog_file() {
    let dir = TempDir::new().expect("temp dir");
    let settings = settings_with(&[("PODWISE_DATA_DIR", dir.path().to_str().expect("utf-8"))]);
    let (first, second) = tokio::join!(Catalog::open(&settings), Catalog::open(&settings));
    let (first, second) = (first.expect("first"), second.expect("second"));
    let (a, b) = tokio::join!(first.check(), second.check());
    // Both migrate at once; whichever lost the race sees the schema on its next call.
    if a.is_err() || b.is_err() {
        first.check().await.expect("first ready");
        second.check().await.expect("second ready");
    }

    let user = first.create_user().await.expect("user");

    let token = user.token.expose_secret();
    assert_eq!(
        second.authenticate(token).await.expect("auth"),
        Some(user.user_id)
    );
}

/// A port on loopback that nothing listens on (yet).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test]
async fn an_unreachable_database_fails_fast_as_unavailable() {
    let port = free_port().to_string();
    let settings = settings_with(&[
        ("PODWISE_PROFILE", "cluster"),
        ("POSTGRES_HOST", "127.0.0.1"),
        ("POSTGRES_PORT", &port),
        ("MINIO_ACCESS_KEY", "unused"),
        ("MINIO_SECRET_KEY", "unused"),
    ]);
    let catalog = Catalog::open(&settings)
        .await
        .expect("opening contacts nothing");

    let started = std::time::Instant::now();
    let checked = catalog.check().await;
    let listed = catalog.categories().await;

    assert!(
        matches!(checked, Err(StoreError::Unavailable { .. })),
        "{checked:?}"
    );
    assert!(
        matches!(listed, Err(StoreError::Unavailable { .. })),
        "{listed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_catalog_opened_while_postgres_was_down_works_once_it_is_back() {
    let Some(mut settings) = fresh_postgres_settings().await else {
        return;
    };
    // The service sees PostgreSQL through a port that only starts forwarding later,
    // as if the database came up after the service.
    let real = format!("{}:{}", settings.postgres.host, settings.postgres.port);
    let port = free_port();
    settings.postgres.port = port;
    let catalog = Catalog::open(&settings).await.expect("opens while down");

    let while_down = catalog.check().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let real = real.clone();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(real).await.expect("connect");
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });

    assert!(
        matches!(while_down, Err(StoreError::Unavailable { .. })),
        "{while_down:?}"
    );
    catalog
        .check()
        .await
        .expect("ready once the database is back");
    assert_eq!(catalog.categories().await.expect("migrated").len(), 2);
}

async fn indexed_episodes_are_listed_oldest_first_from_a_time(catalog: Catalog) {
    let first = one_episode(&catalog).await;
    assert_eq!(
        catalog.indexed_since(0, 10).await.expect("listing"),
        [],
        "an episode never indexed is not listed"
    );
    let first_at = catalog.mark_indexed(&first).await.expect("mark");
    let second = catalog
        .upsert_episode(&episode("show", "ep-2", "Episode two", 2_000, &[]))
        .await
        .expect("second episode");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second_at = catalog.mark_indexed(&second).await.expect("mark");
    assert!(second_at > first_at);

    let listed = catalog.indexed_since(first_at, 10).await.expect("listing");
    assert_eq!(
        listed,
        [(first.clone(), first_at), (second.clone(), second_at)]
    );
    let listed = catalog.indexed_since(second_at, 10).await.expect("listing");
    assert_eq!(listed, [(second.clone(), second_at)]);
    assert_eq!(
        catalog
            .indexed_since(first_at, 1)
            .await
            .expect("listing")
            .len(),
        1
    );

    // Indexing again moves the episode to the end.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let again = catalog.mark_indexed(&first).await.expect("mark");
    let listed = catalog.indexed_since(second_at, 10).await.expect("listing");
    assert_eq!(listed, [(second, second_at), (first, again)]);
    let unknown = catalog.mark_indexed("nope").await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

-- The catalog schema, written once for both PostgreSQL and SQLite: only types and
-- clauses both understand (TEXT, BIGINT, DOUBLE PRECISION, CHECK, ON CONFLICT).
-- Times are Unix milliseconds (BIGINT); ids are opaque TEXT.

CREATE TABLE categories (
    id TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL
);

-- The two categories Podwise starts with; more are added as data.
INSERT INTO categories (id, name_zh, name_en) VALUES
    ('business', '商業', 'Business'),
    ('education', '教育', 'Education');

CREATE TABLE podcasts (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    category_id TEXT NOT NULL REFERENCES categories (id),
    language TEXT NOT NULL,
    image_url TEXT,
    rss_url TEXT UNIQUE,
    rating DOUBLE PRECISION,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX podcasts_by_category ON podcasts (category_id);

CREATE TABLE episodes (
    id TEXT PRIMARY KEY,
    podcast_id TEXT NOT NULL REFERENCES podcasts (id) ON DELETE CASCADE,
    -- The feed's identifier of the episode: ingesting a feed twice keeps one row.
    guid TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    published_at BIGINT,
    duration_ms BIGINT CHECK (duration_ms >= 0),
    language TEXT NOT NULL,
    audio_key TEXT,
    preview_key TEXT,
    transcript_status TEXT NOT NULL DEFAULT 'pending'
        CHECK (transcript_status IN ('pending', 'transcribing', 'done', 'failed')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (podcast_id, guid)
);

CREATE INDEX episodes_by_publication ON episodes (podcast_id, published_at);

CREATE TABLE episode_tags (
    episode_id TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (episode_id, tag)
);

CREATE INDEX episode_tags_by_tag ON episode_tags (tag);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Only a SHA-256 of each bearer token is kept: a leaked table grants no access.
CREATE TABLE user_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX user_tokens_by_user ON user_tokens (user_id);

CREATE TABLE preferred_categories (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id TEXT NOT NULL REFERENCES categories (id),
    PRIMARY KEY (user_id, category_id)
);

CREATE TABLE preferred_tags (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (user_id, tag)
);

CREATE TABLE feedback_events (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    episode_id TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('preview_played', 'liked', 'disliked', 'skipped')),
    at BIGINT NOT NULL
);

CREATE INDEX feedback_by_user ON feedback_events (user_id, at);
CREATE INDEX feedback_by_episode ON feedback_events (episode_id);

CREATE TABLE ingestion_jobs (
    id TEXT PRIMARY KEY,
    -- A feed job spawns one job per episode; those point back at it.
    parent_id TEXT REFERENCES ingestion_jobs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('feed', 'episode', 'audio', 'transcripts')),
    -- What to ingest: a feed URL or path, an object key, an episode id.
    source TEXT NOT NULL,
    podcast_id TEXT REFERENCES podcasts (id) ON DELETE SET NULL,
    episode_id TEXT REFERENCES episodes (id) ON DELETE SET NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    -- The pipeline step a running job is in, for operators watching progress.
    stage TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    -- A failed attempt is retried, but not before this time.
    not_before BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX ingestion_jobs_by_state ON ingestion_jobs (state, not_before);
CREATE INDEX ingestion_jobs_by_parent ON ingestion_jobs (parent_id);

-- A listener finishing an episode becomes feedback of its own kind ('completed'): the
-- recommender weighs it and never offers a finished episode again.
--
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt; PostgreSQL
-- accepts the same statements, which keeps one migration for both.

CREATE TABLE feedback_events_next (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    episode_id TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    kind TEXT NOT NULL
        CHECK (kind IN ('preview_played', 'liked', 'disliked', 'skipped', 'completed')),
    at BIGINT NOT NULL
);

INSERT INTO feedback_events_next (id, user_id, episode_id, kind, at)
    SELECT id, user_id, episode_id, kind, at FROM feedback_events;

DROP TABLE feedback_events;

ALTER TABLE feedback_events_next RENAME TO feedback_events;

CREATE INDEX feedback_by_user ON feedback_events (user_id, at);
CREATE INDEX feedback_by_episode ON feedback_events (episode_id);

-- The embedded documents store: each document is one JSON row, keyed the way the
-- MongoDB collections are indexed (episode id; user, session and time).

CREATE TABLE transcripts (
    episode_id TEXT PRIMARY KEY,
    body TEXT NOT NULL CHECK (json_valid(body)),
    updated_at BIGINT NOT NULL
);

CREATE TABLE chat_messages (
    -- Insertion order breaks ties between messages stored in the same millisecond.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    body TEXT NOT NULL CHECK (json_valid(body))
);

CREATE INDEX chat_messages_by_session ON chat_messages (user_id, session_id, at);

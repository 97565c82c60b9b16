-- When an episode's chunks were last written to the vector store (Unix milliseconds).
-- Each RAG replica keeps its own in-memory word index; it polls this column to pick up
-- the episodes that another replica indexed since its last look.

ALTER TABLE episodes ADD COLUMN indexed_at BIGINT;

CREATE INDEX episodes_by_indexed_at ON episodes (indexed_at);

-- Room on every sessions page for the next version of its rows. An Interim-Update rewrites its session row without
-- touching an indexed column, so with free space on the page PostgreSQL keeps the new version there (a HOT update)
-- and skips every index; on full pages each update inserted into all four indexes, on the source and again on the
-- replica that applies it. New pages get the setting; existing ones as they are rewritten.
ALTER TABLE sessions SET (fillfactor = 70);

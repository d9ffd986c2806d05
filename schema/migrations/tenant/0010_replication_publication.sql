-- The CDC publication, created by the administrator's migrations rather than by the replicator: creating a publication
-- over a table takes owning it, and the replicator's role (geo_replicator) owns nothing. It publishes every table of
-- public but replication_progress and geo_schema_migrations (local to each database); the event trigger of 0004 adds
-- every table created later in the same transaction. A database that has it already (made by an earlier replicator,
-- possibly with a table list of its own) keeps it: the replicator brings its list up to date when it may.
DO $$
DECLARE
    tables text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'geo_replication') THEN
        RETURN;
    END IF;
    SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY c.relname) INTO tables
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = 'public'
      AND c.relname NOT IN ('replication_progress', 'geo_schema_migrations');
    EXECUTE 'CREATE PUBLICATION geo_replication FOR TABLE ' || tables;
END;
$$;

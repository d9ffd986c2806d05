-- CDC publication upkeep. The replicator creates the publication geo_replication over every table of public but
-- replication_progress and geo_schema_migrations. A table created later by a migration joins it in the same
-- transaction, so no change to a new table is decoded before the table is published (changes decoded while a
-- table is outside the publication are never sent). Nothing happens in a database without the publication.
-- Migrate the replicas before the sources: the new table must exist on the replica when its first change arrives.
CREATE FUNCTION geo_replication_publish_new_tables() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
    created record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'geo_replication') THEN
        RETURN;
    END IF;
    FOR created IN
        SELECT d.object_identity
        FROM pg_event_trigger_ddl_commands() d
        JOIN pg_class c ON c.oid = d.objid
        WHERE d.command_tag = 'CREATE TABLE' AND d.schema_name = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND c.relname NOT IN ('replication_progress', 'geo_schema_migrations')
    LOOP
        EXECUTE format('ALTER PUBLICATION geo_replication ADD TABLE %s', created.object_identity);
    END LOOP;
END;
$$;

CREATE EVENT TRIGGER geo_replication_publish_new_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION geo_replication_publish_new_tables();

-- Markers that the verifier (and tests, benchmarks) commit on a source and then wait for on its replica: once a
-- replica holds a marker it has applied every transaction committed before it, whichever way the changes travel
-- (pgoutput or Debezium through Kafka). Replicated like any table; a new marker removes those older than an hour.
CREATE TABLE replication_markers (
    id          uuid PRIMARY KEY,
    written_at  timestamptz NOT NULL DEFAULT now()
);

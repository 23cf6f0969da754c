using Npgsql;

namespace Capstan.Tests.Support;

/// <summary>
/// A hand-written Respawn (not in our registry): between tests, every table that holds rows is truncated in one
/// statement, and the rows the migrations seeded (reference data such as default roles) are put back. Installed once
/// into the template database, so every copy carries it.
/// </summary>
public static class DatabaseReset
{
    public const string InstallSql = """
        CREATE SCHEMA capstan_test;

        -- The tables of the migrated schema (everything but the migration history and this schema).
        CREATE VIEW capstan_test.app_tables AS
            SELECT schemaname, tablename
            FROM pg_tables
            WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'capstan_test')
              AND NOT (schemaname = 'public' AND tablename = 'schema_migrations');

        -- Rows present right after migrating are seed data: keep a copy of each such table.
        CREATE TABLE capstan_test.seeded (schemaname name, tablename name, copy_name text, columns text, position int);
        DO $$
        DECLARE
            t record;
            has_rows boolean;
            n int := 0;
            cols text;
        BEGIN
            FOR t IN SELECT * FROM capstan_test.app_tables ORDER BY schemaname, tablename LOOP
                EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %I.%I)', t.schemaname, t.tablename) INTO has_rows;
                IF has_rows THEN
                    n := n + 1;
                    -- Generated columns are recomputed on insert, so they are neither copied nor restored.
                    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
                    FROM pg_attribute a
                    WHERE a.attrelid = format('%I.%I', t.schemaname, t.tablename)::regclass
                      AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
                    EXECUTE format('CREATE TABLE capstan_test.%I AS SELECT %s FROM ONLY %I.%I', 'seed_' || n, cols, t.schemaname, t.tablename);
                    INSERT INTO capstan_test.seeded VALUES (t.schemaname, t.tablename, 'seed_' || n, cols, n);
                END IF;
            END LOOP;
        END $$;

        CREATE FUNCTION capstan_test.reset() RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            t record;
            has_rows boolean;
            targets text := '';
        BEGIN
            FOR t IN SELECT a.schemaname, a.tablename, s.copy_name
                     FROM capstan_test.app_tables a
                     LEFT JOIN capstan_test.seeded s USING (schemaname, tablename) LOOP
                IF t.copy_name IS NOT NULL THEN
                    has_rows := true;
                ELSE
                    EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %I.%I)', t.schemaname, t.tablename) INTO has_rows;
                END IF;
                IF has_rows THEN
                    targets := targets || format('%I.%I, ', t.schemaname, t.tablename);
                END IF;
            END LOOP;
            IF targets = '' THEN
                RETURN;
            END IF;
            EXECUTE 'TRUNCATE ' || left(targets, length(targets) - 2) || ' CASCADE';
            -- Seed rows go back without firing triggers or checking keys, so their order does not matter.
            SET LOCAL session_replication_role = replica;
            FOR t IN SELECT * FROM capstan_test.seeded ORDER BY position LOOP
                EXECUTE format('INSERT INTO %I.%I (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM capstan_test.%I',
                    t.schemaname, t.tablename, t.columns, t.columns, t.copy_name);
            END LOOP;
        END $$;
        """;

    public static async Task RunAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("SELECT capstan_test.reset()", connection, transaction);
        await command.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }
}

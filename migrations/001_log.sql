-- openlec on PostgreSQL: many communities, one log each.
-- Every table is keyed by community. The log tables (entries, checkpoints, cosignatures)
-- are append-only: the application role may only SELECT and INSERT them, and triggers
-- refuse UPDATE, DELETE and TRUNCATE (of the table and of each partition) for every role.
-- An owner or superuser can still disable a trigger: against them, the guarantee is the
-- log's own (signed entries, signed checkpoints, witnesses, `openlec verify`).

CREATE TABLE communities (
  id text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The sequencer: one row per community, taken FOR UPDATE by the transaction that appends a
-- batch, so that two processes can never number two entries alike. Different communities
-- lock different rows and never wait for each other.
CREATE TABLE log_head (
  community text PRIMARY KEY REFERENCES communities (id),
  size bigint NOT NULL CHECK (size >= 0)
);

-- Entries with the tree hashes their append stored (leaf hash first), partitioned by
-- community so that a community's reads touch its partition only.
CREATE TABLE entries (
  community text NOT NULL,
  seq bigint NOT NULL CHECK (seq >= 0),
  bytes bytea NOT NULL,
  hashes bytea NOT NULL,
  PRIMARY KEY (community, seq)
) PARTITION BY HASH (community);
CREATE TABLE entries_p0 PARTITION OF entries FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE entries_p1 PARTITION OF entries FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE entries_p2 PARTITION OF entries FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE entries_p3 PARTITION OF entries FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE entries_p4 PARTITION OF entries FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE entries_p5 PARTITION OF entries FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE entries_p6 PARTITION OF entries FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE entries_p7 PARTITION OF entries FOR VALUES WITH (MODULUS 8, REMAINDER 7);

CREATE TABLE checkpoints (
  community text NOT NULL REFERENCES communities (id),
  size bigint NOT NULL,
  note text NOT NULL,
  PRIMARY KEY (community, size)
);

CREATE TABLE cosignatures (
  community text NOT NULL REFERENCES communities (id),
  size bigint NOT NULL,
  witness text NOT NULL,
  line text NOT NULL,
  PRIMARY KEY (community, size, witness)
);

-- Projections: every row of every table a transaction type declares, as canonical JSON.
-- They are a cache of the log (verify rebuilds and compares them), written in the same
-- transaction as the entries that produced them.
CREATE TABLE projection_rows (
  community text NOT NULL REFERENCES communities (id),
  tbl text NOT NULL,
  key text NOT NULL,
  row text NOT NULL,
  PRIMARY KEY (community, tbl, key)
);

CREATE FUNCTION openlec_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'openlec: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries FOR EACH ROW EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_p0_no_truncate BEFORE TRUNCATE ON entries_p0 FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_p1_no_truncate BEFORE TRUNCATE ON entries_p1 FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_p2_no_truncate BEFORE TRUNCATE ON entries_p2 FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_p3_no_truncate BEFORE TRUNCATE ON entries_p3 FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_p4_no_truncate BEFORE TRUNCATE ON entries_p4 FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_p5_no_truncate BEFORE TRUNCATE ON entries_p5 FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_p6_no_truncate BEFORE TRUNCATE ON entries_p6 FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER entries_p7_no_truncate BEFORE TRUNCATE ON entries_p7 FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints FOR EACH ROW EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER cosignatures_append_only BEFORE UPDATE OR DELETE ON cosignatures FOR EACH ROW EXECUTE FUNCTION openlec_append_only();
CREATE TRIGGER cosignatures_no_truncate BEFORE TRUNCATE ON cosignatures FOR EACH STATEMENT EXECUTE FUNCTION openlec_append_only();
-- The head only moves forward.
CREATE FUNCTION openlec_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.size < OLD.size OR NEW.community <> OLD.community THEN
    RAISE EXCEPTION 'openlec: a log head only moves forward' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER log_head_forward BEFORE UPDATE OR DELETE ON log_head FOR EACH ROW EXECUTE FUNCTION openlec_head_forward();

-- The application's role: what `openlec serve` needs and nothing more. Grant it to the
-- login role the servers use (GRANT openlec_app TO <login>).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'openlec_app') THEN
    CREATE ROLE openlec_app NOLOGIN;
  END IF;
END
$$;
GRANT SELECT, INSERT ON communities, entries, checkpoints, cosignatures TO openlec_app;
GRANT SELECT, INSERT, UPDATE ON log_head TO openlec_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_rows TO openlec_app;

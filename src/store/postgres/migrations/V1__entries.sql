-- The ledger's ordered key-value tree (see src/store/keys.rs): the hash-chained event log
-- under ev/, the chain head under hd/, and every record and index derived from the events.
-- bytea compares byte by byte, so key order here is the key order sled and the code use.
CREATE TABLE entries (
    key bytea PRIMARY KEY,
    value bytea NOT NULL
);

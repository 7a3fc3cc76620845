-- Interlude PostgreSQL schema, version 5: a command id belongs to one command.
--
-- A ledger entry records one command: its id, thread and kind. A different command that
-- reuses the id (another thread or kind) must never write under it. The commit statement
-- already refuses one whose id it sees taken; this function covers the entry it cannot see
-- yet (inserted by a transaction still open when the statement began): the statement's
-- `ON CONFLICT` update calls it for an entry of another owner, and it fails the whole
-- statement as a unique violation of the ledger's key, so nothing of that commit is written.
CREATE FUNCTION interlude_command_id_taken(command_id text, owner_thread text, owner_kind text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'command id % is already used by a % command of thread %', command_id, owner_kind, owner_thread
        USING ERRCODE = 'unique_violation', CONSTRAINT = 'command_ledger_pkey',
              HINT = 'command ids must be unique: send the command again with a new id';
END
$$;

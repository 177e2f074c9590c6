"""The schema, as numbered migrations on PRAGMA user_version.

Never edit a migration that has shipped: add the next one.

A Redtail account known to a plan is one row of `staged_accounts` for as long as the plan
knows it; its `state` says where it is: `pending`, `ignored`, or `linked` (then
`linked_account_id` names the plan account and `link_state` is active / paused /
source_unlinked). Keeping the link on that one row makes SPEC §3's "exactly one state" a
CHECK constraint instead of a cross-table hope, and lets Stop and Delete hand back the same
row (same id, last description, last pulled balance).
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE users (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role        TEXT NOT NULL CHECK (role IN ('advisor', 'professional', 'client')),
        can_edit    INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE plans (
        id              INTEGER PRIMARY KEY,
        name            TEXT NOT NULL,
        client          TEXT NOT NULL DEFAULT '',
        co_client       TEXT,
        owner_user_id   INTEGER NOT NULL REFERENCES users(id),
        created_at      TEXT NOT NULL
    );
    CREATE TABLE plan_grants (
        user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        plan_id  INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        PRIMARY KEY (user_id, plan_id)
    );
    CREATE TABLE integrations (
        id              INTEGER PRIMARY KEY,
        owner_user_id   INTEGER NOT NULL REFERENCES users(id),
        partner         TEXT NOT NULL DEFAULT 'Redtail CRM',
        environment     TEXT NOT NULL,
        base_url        TEXT NOT NULL,
        username        TEXT NOT NULL,
        secret_ref      TEXT NOT NULL UNIQUE,
        status          TEXT NOT NULL DEFAULT 'connected',
        status_message  TEXT,
        created_at      TEXT NOT NULL,
        UNIQUE (owner_user_id, base_url, username COLLATE NOCASE)
    );
    CREATE TABLE plan_contacts (
        id                  INTEGER PRIMARY KEY,
        plan_id             INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        integration_id      INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        redtail_contact_id  INTEGER NOT NULL,
        name                TEXT NOT NULL,
        party               TEXT NOT NULL DEFAULT 'client'
                            CHECK (party IN ('client', 'co_client')),
        linked_at           TEXT NOT NULL,
        UNIQUE (plan_id, integration_id, redtail_contact_id)
    );
    CREATE TABLE plan_accounts (
        id                  INTEGER PRIMARY KEY,
        plan_id             INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        description         TEXT NOT NULL,
        investment_type     TEXT NOT NULL,
        owner               TEXT NOT NULL CHECK (owner IN ('Client', 'Co-client', 'Joint')),
        balance             TEXT NOT NULL,
        equity_pct          TEXT,
        fixed_income_pct    TEXT,
        cash_pct            TEXT,
        annual_contribution TEXT,
        notes               TEXT NOT NULL DEFAULT '',
        number_last4        TEXT,
        version             INTEGER NOT NULL DEFAULT 1,
        created_at          TEXT NOT NULL,
        updated_at          TEXT NOT NULL
    );
    CREATE INDEX plan_accounts_plan ON plan_accounts(plan_id);
    CREATE TABLE staged_accounts (
        id                      INTEGER PRIMARY KEY,
        plan_id                 INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        integration_id          INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        redtail_account_id      INTEGER NOT NULL,
        state                   TEXT NOT NULL CHECK (state IN ('pending', 'ignored', 'linked')),
        ignore_reason           TEXT,
        linked_account_id       INTEGER UNIQUE REFERENCES plan_accounts(id),
        link_state              TEXT CHECK (link_state IN ('active', 'paused', 'source_unlinked')),
        prior_link_state        TEXT,
        description             TEXT NOT NULL,
        description_edited      INTEGER NOT NULL DEFAULT 0,
        company                 TEXT,
        number_last4            TEXT,
        account_type            TEXT,
        taxqualified            INTEGER,
        taxqualified_type_name  TEXT,
        default_investment_type TEXT NOT NULL,
        review_type             INTEGER NOT NULL DEFAULT 0,
        type_note               TEXT NOT NULL DEFAULT '',
        type_included           INTEGER NOT NULL DEFAULT 1,
        balance                 TEXT,
        redtail_updated_at      TEXT,
        last_updated            TEXT,
        missing_at_source       INTEGER NOT NULL DEFAULT 0,
        missing_streak          INTEGER NOT NULL DEFAULT 0,
        version                 INTEGER NOT NULL DEFAULT 1,
        created_at              TEXT NOT NULL,
        UNIQUE (plan_id, integration_id, redtail_account_id),
        CHECK ((state = 'linked') = (linked_account_id IS NOT NULL)),
        CHECK ((state = 'linked') = (link_state IS NOT NULL))
    );
    CREATE INDEX staged_plan_state ON staged_accounts(plan_id, state);
    CREATE TABLE staged_account_contacts (
        staged_id           INTEGER NOT NULL REFERENCES staged_accounts(id) ON DELETE CASCADE,
        redtail_contact_id  INTEGER NOT NULL,
        PRIMARY KEY (staged_id, redtail_contact_id)
    );
    CREATE INDEX staged_contacts_contact ON staged_account_contacts(redtail_contact_id);
    CREATE TABLE balance_history (
        id               INTEGER PRIMARY KEY,
        plan_account_id  INTEGER NOT NULL REFERENCES plan_accounts(id) ON DELETE CASCADE,
        balance          TEXT NOT NULL,
        source           TEXT NOT NULL CHECK (source IN ('pull', 'manual', 'link', 'add', 'undo')),
        at               TEXT NOT NULL,
        sync_run_id      INTEGER
    );
    CREATE INDEX balance_history_account ON balance_history(plan_account_id, id);
    CREATE TABLE audit_log (
        id           INTEGER PRIMARY KEY,
        at           TEXT NOT NULL,
        user_name    TEXT NOT NULL,
        plan_id      INTEGER,
        action       TEXT NOT NULL,
        object_type  TEXT NOT NULL,
        object_id    INTEGER,
        before       TEXT,
        after        TEXT,
        detail       TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_plan ON audit_log(plan_id, id);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TABLE sync_runs (
        id                INTEGER PRIMARY KEY,
        plan_id           INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        trigger           TEXT NOT NULL CHECK (trigger IN ('auto', 'manual', 'cli')),
        user_name         TEXT NOT NULL,
        status            TEXT NOT NULL
                          CHECK (status IN ('running', 'ok', 'partial', 'failed', 'abandoned')),
        dry_run           INTEGER NOT NULL DEFAULT 0,
        started_at        TEXT NOT NULL,
        local_date        TEXT NOT NULL,
        finished_at       TEXT,
        lease_expires_at  REAL,
        pid               INTEGER,
        host              TEXT,
        report            TEXT
    );
    CREATE INDEX sync_runs_plan ON sync_runs(plan_id, id);
    """,
    # 2: the windowed tables (store/tables.py) sort a plan's pending rows by description
    # straight off an index instead of sorting 100k rows per query
    """
    CREATE INDEX staged_plan_state_description
        ON staged_accounts(plan_id, state, description COLLATE NOCASE);
    """,
    # 3: firm administrators (issue 10 item 3, README "Who manages users"). An upgraded firm
    # gets exactly one: its lowest-id advisor (or, when a user rewrite left no advisor at
    # all, its first user, made advisor again), who can then name more. The database
    # itself keeps an administrator an advisor and refuses to lose the last one.
    """
    ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
    INSERT INTO audit_log (at, user_name, plan_id, action, object_type, object_id, before,
                           after, detail)
        SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'plantech', NULL, 'user edit', 'user',
               id, json_object('id', id, 'name', name, 'role', role, 'can_edit', can_edit,
                               'is_admin', 0),
               json_object('id', id, 'name', name, 'role', 'advisor', 'can_edit', 1,
                           'is_admin', 0),
               'upgrade: no advisor was left; the first user is an advisor again'
        FROM users WHERE id = (SELECT min(id) FROM users)
            AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'advisor');
    UPDATE users SET role = 'advisor', can_edit = 1
        WHERE id = (SELECT min(id) FROM users)
            AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'advisor');
    UPDATE users SET is_admin = 1 WHERE id = (SELECT min(id) FROM users WHERE role = 'advisor');
    INSERT INTO audit_log (at, user_name, plan_id, action, object_type, object_id, before,
                           after, detail)
        SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'plantech', NULL, 'user edit', 'user',
               id, json_object('id', id, 'name', name, 'role', role, 'can_edit', can_edit,
                               'is_admin', 0),
               json_object('id', id, 'name', name, 'role', role, 'can_edit', can_edit,
                           'is_admin', 1),
               'upgrade: the first advisor is the firm administrator'
        FROM users WHERE is_admin = 1;
    CREATE TRIGGER users_admin_is_advisor_insert BEFORE INSERT ON users
        WHEN NEW.is_admin <> 0 AND NEW.role <> 'advisor'
        BEGIN SELECT RAISE(ABORT, 'an administrator is an advisor'); END;
    CREATE TRIGGER users_admin_is_advisor BEFORE UPDATE OF role, is_admin ON users
        WHEN NEW.is_admin <> 0 AND NEW.role <> 'advisor'
        BEGIN SELECT RAISE(ABORT, 'an administrator is an advisor'); END;
    CREATE TRIGGER users_keep_an_admin AFTER UPDATE OF role, is_admin ON users
        WHEN OLD.is_admin <> 0 AND NOT EXISTS (SELECT 1 FROM users WHERE is_admin <> 0)
        BEGIN SELECT RAISE(ABORT, 'the last administrator cannot be removed'); END;
    CREATE TRIGGER users_keep_an_admin_delete AFTER DELETE ON users
        WHEN OLD.is_admin <> 0 AND NOT EXISTS (SELECT 1 FROM users WHERE is_admin <> 0)
        BEGIN SELECT RAISE(ABORT, 'the last administrator cannot be removed'); END;
    """,
    # 4: a linked contact who is neither the plan's client nor its co-client (a child of the
    # household): party 'other' (issue 12 item 9). SQLite cannot widen a CHECK in place, so
    # the table is rebuilt (nothing references it; its ids are kept).
    """
    CREATE TABLE plan_contacts_new (
        id                  INTEGER PRIMARY KEY,
        plan_id             INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        integration_id      INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        redtail_contact_id  INTEGER NOT NULL,
        name                TEXT NOT NULL,
        party               TEXT NOT NULL DEFAULT 'client'
                            CHECK (party IN ('client', 'co_client', 'other')),
        linked_at           TEXT NOT NULL,
        UNIQUE (plan_id, integration_id, redtail_contact_id)
    );
    INSERT INTO plan_contacts_new (id, plan_id, integration_id, redtail_contact_id, name, party,
                                   linked_at)
        SELECT id, plan_id, integration_id, redtail_contact_id, name, party, linked_at
        FROM plan_contacts;
    DROP TABLE plan_contacts;
    ALTER TABLE plan_contacts_new RENAME TO plan_contacts;
    """,
    # 5: ids from a partner are opaque text (issue 11: a Salesforce id is 18 characters, and
    # one of all digits must keep its leading zeros), and they are no longer Redtail's: the
    # redtail_* columns become source_* TEXT. The three tables are rebuilt (SQLite cannot
    # change a column's type in place), the child first so that dropping a parent cascades
    # to nothing; every id is kept, a Redtail id becoming its decimal text.
    """
    CREATE TEMP TABLE staged_contacts_copy AS
        SELECT staged_id, CAST(redtail_contact_id AS TEXT) AS source_contact_id
        FROM staged_account_contacts;
    DROP TABLE staged_account_contacts;
    CREATE TABLE staged_accounts_new (
        id                      INTEGER PRIMARY KEY,
        plan_id                 INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        integration_id          INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        source_account_id       TEXT NOT NULL,
        state                   TEXT NOT NULL CHECK (state IN ('pending', 'ignored', 'linked')),
        ignore_reason           TEXT,
        linked_account_id       INTEGER UNIQUE REFERENCES plan_accounts(id),
        link_state              TEXT CHECK (link_state IN ('active', 'paused', 'source_unlinked')),
        prior_link_state        TEXT,
        description             TEXT NOT NULL,
        description_edited      INTEGER NOT NULL DEFAULT 0,
        company                 TEXT,
        number_last4            TEXT,
        account_type            TEXT,
        taxqualified            INTEGER,
        taxqualified_type_name  TEXT,
        default_investment_type TEXT NOT NULL,
        review_type             INTEGER NOT NULL DEFAULT 0,
        type_note               TEXT NOT NULL DEFAULT '',
        type_included           INTEGER NOT NULL DEFAULT 1,
        balance                 TEXT,
        source_updated_at       TEXT,
        last_updated            TEXT,
        missing_at_source       INTEGER NOT NULL DEFAULT 0,
        missing_streak          INTEGER NOT NULL DEFAULT 0,
        version                 INTEGER NOT NULL DEFAULT 1,
        created_at              TEXT NOT NULL,
        UNIQUE (plan_id, integration_id, source_account_id),
        CHECK ((state = 'linked') = (linked_account_id IS NOT NULL)),
        CHECK ((state = 'linked') = (link_state IS NOT NULL))
    );
    INSERT INTO staged_accounts_new
        SELECT id, plan_id, integration_id, CAST(redtail_account_id AS TEXT), state,
               ignore_reason, linked_account_id, link_state, prior_link_state, description,
               description_edited, company, number_last4, account_type, taxqualified,
               taxqualified_type_name, default_investment_type, review_type, type_note,
               type_included, balance, redtail_updated_at, last_updated, missing_at_source,
               missing_streak, version, created_at
        FROM staged_accounts;
    DROP TABLE staged_accounts;
    ALTER TABLE staged_accounts_new RENAME TO staged_accounts;
    CREATE INDEX staged_plan_state ON staged_accounts(plan_id, state);
    CREATE INDEX staged_plan_state_description
        ON staged_accounts(plan_id, state, description COLLATE NOCASE);
    CREATE TABLE staged_account_contacts (
        staged_id           INTEGER NOT NULL REFERENCES staged_accounts(id) ON DELETE CASCADE,
        source_contact_id   TEXT NOT NULL,
        PRIMARY KEY (staged_id, source_contact_id)
    );
    INSERT INTO staged_account_contacts (staged_id, source_contact_id)
        SELECT staged_id, source_contact_id FROM staged_contacts_copy;
    DROP TABLE staged_contacts_copy;
    CREATE INDEX staged_contacts_contact ON staged_account_contacts(source_contact_id);
    CREATE TABLE plan_contacts_new (
        id                  INTEGER PRIMARY KEY,
        plan_id             INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        integration_id      INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
        source_contact_id   TEXT NOT NULL,
        name                TEXT NOT NULL,
        party               TEXT NOT NULL DEFAULT 'client'
                            CHECK (party IN ('client', 'co_client', 'other')),
        linked_at           TEXT NOT NULL,
        UNIQUE (plan_id, integration_id, source_contact_id)
    );
    INSERT INTO plan_contacts_new (id, plan_id, integration_id, source_contact_id, name, party,
                                   linked_at)
        SELECT id, plan_id, integration_id, CAST(redtail_contact_id AS TEXT), name, party,
               linked_at
        FROM plan_contacts;
    DROP TABLE plan_contacts;
    ALTER TABLE plan_contacts_new RENAME TO plan_contacts;
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file up to the newest schema; returns the version now in force."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    target = len(MIGRATIONS)
    if version > target:
        from ..domain.errors import PlantechError

        raise PlantechError(
            f"database schema version {version} is newer than this plantech ({target}): upgrade"
        )
    if version == target:
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        # re-read under the write lock: another process may have migrated meanwhile
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for number in range(version, target):
            for statement in _split(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return target


def _split(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements

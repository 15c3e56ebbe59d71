"""Migrates one of MLflow's databases before the server starts.

argv: `tracking` or `auth`, then the database's URI. Holds an
advisory lock meanwhile, so that pods starting together migrate
one at a time (MLflow's migrations take no lock: two of them on an
empty database race on CREATE TABLE). Migrates as the role that
owns the schema, so that what it creates belongs to that role too,
whichever login of the stack (a member of the owner) migrates.
"""

import subprocess
import sys
import time

import sqlalchemy

KIND, URI = sys.argv[1], sys.argv[2]
# The lock's key; the table where Alembic keeps the revision.
LOCK, VERSION_TABLE = {
    "tracking": ("mlflow-stack-migrate", "alembic_version"),
    "auth": ("mlflow-stack-auth", "alembic_version_auth"),
}[KIND]
SCHEMA_OWNER = sqlalchemy.text(
    "SELECT current_user AS login, tableowner AS owner, "
    "pg_has_role(current_user, tableowner, 'MEMBER') AS member "
    "FROM pg_tables "
    "WHERE schemaname = current_schema() AND tablename = :table"
)
# Since PostgreSQL 16 a membership may be granted WITH SET FALSE: no
# SET ROLE to the owner, which `-c role=OWNER` needs.
MAY_SET_ROLE = sqlalchemy.text(
    "SELECT pg_has_role(current_user, :owner, 'SET')"
)


def connect(engine):
    """The first connection, retried while the proxy starts."""
    for attempt in range(30):
        try:
            return engine.connect()
        except sqlalchemy.exc.OperationalError:
            if attempt == 29:
                raise
            time.sleep(2)


def quoted(role):
    return '"' + role.replace('"', '""') + '"'


def as_schema_owner(connection, url):
    """URL, as the schema's owner when the login is not: libpq's
    `options=-c role=OWNER` runs the whole session as that role."""
    row = connection.execute(
        SCHEMA_OWNER, {"table": VERSION_TABLE}
    ).one_or_none()
    if row is None or row.login == row.owner:
        return url  # a new database, or the login owns the schema
    login, owner = row.login, row.owner
    grant = f"GRANT {quoted(owner)} TO {quoted(login)}"
    if not row.member:
        sys.exit(
            f"migrate: the schema of database {url.database} "
            f"belongs to role {owner}, and login {login} is not a "
            f"member of it: {owner} could not use what {login} "
            "would create. As an administrator of the instance, "
            f"run: {grant};"
        )
    version = connection.dialect.server_version_info
    if version >= (16,) and not connection.execute(
        MAY_SET_ROLE, {"owner": owner}
    ).scalar():
        sys.exit(
            f"migrate: the schema of database {url.database} "
            f"belongs to role {owner}; login {login} is a member "
            "of it, granted without SET, so it cannot migrate as "
            f"{owner}. As an administrator of the instance, run: "
            f"{grant} WITH SET TRUE;"
        )
    print(f"migrate: as {owner}, the owner of the schema", flush=True)
    # libpq splits `options` at spaces; a backslash escapes one.
    role = owner.replace("\\", "\\\\").replace(" ", "\\ ")
    options = [url.query.get("options"), f"-c role={role}"]
    return url.update_query_dict(
        {"options": " ".join(filter(None, options))}
    )


engine = sqlalchemy.create_engine(URI, isolation_level="AUTOCOMMIT")
with connect(engine) as lock:
    lock.execute(
        sqlalchemy.text("SELECT pg_advisory_lock(hashtext(:key))"),
        {"key": LOCK},
    )
    url = as_schema_owner(lock, sqlalchemy.engine.make_url(URI))
    if KIND == "tracking":
        # MLflow's public migration; it initialises a new database.
        uri = url.render_as_string(hide_password=False)
        upgrade = [sys.executable, "-m", "mlflow", "db", "upgrade"]
        sys.exit(subprocess.run([*upgrade, uri]).returncode)
    # The basic-auth user store: the call its server makes on start.
    from mlflow.server.auth.db import utils

    migrating = sqlalchemy.create_engine(url)
    utils.migrate_if_needed(migrating, "head")
    migrating.dispose()

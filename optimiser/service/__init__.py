"""The placement service: the engine behind an HTTP API and pages, over a register in a database.

Layout (one job per module):

- :mod:`.db`: the tables (SQLAlchemy Core), the engine, and Alembic migrations run on start.
- :mod:`.security`: argon2 password hashes, expiring tokens (only their hash is stored),
  login throttling, the role matrix.
- :mod:`.audit`: the append-only, hash-chained audit trail and its verification.
- :mod:`.register`: importing the register (the engine's reader validates it) and turning
  the register's rows back into an :class:`~optimiser.instance.Instance`.
- :mod:`.matching`: a :class:`~optimiser.match.Matcher` kept warm, rebuilt when the
  register changes.
- :mod:`.decisions`: referrals, accept/decline, approvals, each in one transaction.
- :mod:`.api` and :mod:`.pages`: the JSON API and the pages for people; :mod:`.app` puts
  them together; :mod:`.cli` is `placement serve|users|audit`.
"""

DEFAULT_URL = "sqlite:///placement.db"  # `--db` default: a file in the working directory

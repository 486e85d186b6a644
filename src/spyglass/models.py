"""Imports every feature's models so ``Base.metadata`` knows all tables (Alembic and tests use it)."""

from spyglass.accounts import models as accounts_models
from spyglass.audit import models as audit_models
from spyglass.core.db import Base
from spyglass.engine import models as engine_models

__all__ = ["Base", "accounts_models", "audit_models", "engine_models"]

"""Imports every feature's models so ``Base.metadata`` knows all tables (Alembic and tests use it)."""

from spyglass.accounts import models as accounts_models
from spyglass.analytics import models as analytics_models
from spyglass.audit import models as audit_models
from spyglass.core.db import Base
from spyglass.engine import models as engine_models
from spyglass.feedback import models as feedback_models
from spyglass.market import models as market_models
from spyglass.notifications import models as notifications_models
from spyglass.scanner import models as scanner_models

__all__ = [
    "Base",
    "accounts_models",
    "analytics_models",
    "audit_models",
    "engine_models",
    "feedback_models",
    "market_models",
    "notifications_models",
    "scanner_models",
]

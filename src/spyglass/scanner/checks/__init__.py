"""Scanner checks: each a plugin (``base.Check``) registered in ``registry``."""

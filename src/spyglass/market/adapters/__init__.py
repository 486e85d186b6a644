"""Marketplace adapters: one Protocol (``base.Adapter``) and one registry (``registry``)."""

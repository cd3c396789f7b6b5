"""Placeholder: fixtures land here."""

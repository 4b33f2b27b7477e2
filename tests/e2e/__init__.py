"""Helpers shared by the contract unit tests and the local end-to-end tests."""

"""Accounts, contacts, products, engagements and the account team: the hub every app reads."""

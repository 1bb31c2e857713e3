"""Certification: the mandatory nine-month technical curriculum for commercial staff."""

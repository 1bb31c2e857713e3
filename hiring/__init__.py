"""Hiring: job analysis, the question bank, interviews, panel auditions and decisions."""

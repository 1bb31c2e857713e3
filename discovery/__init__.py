"""Discovery: client intelligence profiles, Failure-Cost Analysis interviews and TCO comparisons."""

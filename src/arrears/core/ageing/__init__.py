"""Days past due, buckets, five-category classification and amounts owed (pure)."""

"""The collection floor in the database: cases, the agent queue, outcomes, promises, visits,
collectors."""

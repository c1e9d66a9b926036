"""The pure core: loan math, ledger, ageing, compliance, policy, the columnar kernel, evidence
hashing, credit codes, message rendering. Nothing here touches a database, the clock, files or
the network; the shell (``services``, ``store``, ``adapters``, ``cli``) passes all of that in."""

"""The collection policy: YAML policies, champion/challenger sets, today's treatments.

Pure: no database, no clock. `choose` is the per-borrower reference; `choose_frame` is the
same over a Polars frame of cases; `validate` warns about steps a rule pack would block.
Policy files are read by `arrears.services.policy_files`.
"""

from arrears.core.strategy.assign import assign, assign_series, bucket
from arrears.core.strategy.case import (
    CASE_COLUMNS,
    CASE_SCHEMA,
    LAST_SENT_SCHEMA,
    CaseView,
    cases_frame,
    parse_case,
)
from arrears.core.strategy.choose import Choice, Explanation, StepTrace, choose, explain
from arrears.core.strategy.frame import ACTION_SCHEMA, ROUTING_SCHEMA, CaseFrameError, choose_frame
from arrears.core.strategy.load import (
    parse_policy,
    parse_policy_set,
    parse_yaml,
    policy_set,
    single,
)
from arrears.core.strategy.model import (
    BrokenPromise,
    Legal,
    Member,
    Policy,
    PolicySet,
    PolicyWarning,
    Routing,
    Segment,
    Step,
)
from arrears.core.strategy.validate import validate

__all__ = [
    "ACTION_SCHEMA",
    "CASE_COLUMNS",
    "CASE_SCHEMA",
    "LAST_SENT_SCHEMA",
    "ROUTING_SCHEMA",
    "BrokenPromise",
    "CaseFrameError",
    "CaseView",
    "Choice",
    "Explanation",
    "Legal",
    "Member",
    "Policy",
    "PolicySet",
    "PolicyWarning",
    "Routing",
    "Segment",
    "Step",
    "StepTrace",
    "assign",
    "assign_series",
    "bucket",
    "cases_frame",
    "choose",
    "choose_frame",
    "explain",
    "parse_case",
    "parse_policy",
    "parse_policy_set",
    "parse_yaml",
    "policy_set",
    "single",
    "validate",
]

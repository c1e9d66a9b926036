"""China: the collection guidelines (GB/T 45251-2025, NIFA 2024, CBA 2026), the credit-card
Measures, the Credit Reporting Regulation and PIPL, as summarised in REFERENCES.md.

The guideline numbers come from secondary summaries; they are data here (Limits) so a change
is one edit with its source beside it.
"""

from __future__ import annotations

from datetime import time

from arrears.core.compliance.limits import Limits
from arrears.core.compliance.pack import Pack, Rule
from arrears.core.compliance.rules import caps, content, hours, parties, records, status, visits

GUIDELINES = (
    "GB/T 45251-2025 《互联网金融 个人网络消费信贷 贷后催收风控指引》; "
    "NIFA 《互联网金融贷后催收业务指引》 (2024); "
    "CBA 《金融机构个人消费类贷款催收工作指引（试行）》 (2026) [secondary summaries]"
)
BASELINE = "arrears baseline control (issue 4); no official article in REFERENCES.md"

LIMITS = Limits(
    day_start=time(8, 0),
    day_end=time(22, 0),
    visit_day_start=time(8, 0),
    visit_day_end=time(22, 0),
    max_conversations_per_day=3,
    max_unanswered_per_number_per_day=6,
    min_visit_collectors=2,
    training_valid_months=12,
    recording_retention_years=2,
)


def _content(category: str, what: str, item: str = "prohibited collection conduct") -> Rule:
    return Rule(
        f"cn.content.{category.replace('_', '-')}",
        f"{GUIDELINES}: {item}",
        f"Collection content must not {what}.",
        content.screen(category),
    )


PACK = Pack(
    id="cn",
    title="China: consumer-loan collection guidelines, credit reporting, PIPL",
    limits=LIMITS,
    rules=(
        Rule(
            "cn.hours",
            f"{GUIDELINES}: no collection contact 22:00-08:00 without the borrower's consent",
            "No contact between 22:00 and 08:00 in any time zone the borrower may be in, "
            "unless the borrower consented to late contact.",
            hours.contact_hours(consent_allowed=True),
        ),
        Rule(
            "cn.daily-conversations",
            f"{GUIDELINES}: at most 3 effective conversations with a debtor per day, "
            "across the lender and all its agencies",
            "No call once the debtor has had the day's maximum of connected conversations.",
            caps.daily_conversations,
        ),
        Rule(
            "cn.unanswered-per-number",
            f"{GUIDELINES}: at most 6 unanswered dial attempts per day to the same number",
            "No call to a number that has had the day's maximum of unanswered attempts.",
            caps.unanswered_per_number,
        ),
        Rule(
            "cn.third-party.unreachable",
            f"{GUIDELINES}: collect only from the debtor; third parties only when the debtor "
            "cannot be reached",
            "Emergency contacts and other third parties only when the debtor is unreachable.",
            parties.only_when_unreachable,
        ),
        Rule(
            "cn.third-party.no-disclosure",
            f"{GUIDELINES}: third parties only asked for contact details or a message, "
            "never told of the debt",
            "A message to a third party must not mention the debt or an amount.",
            parties.no_debt_disclosure,
        ),
        Rule(
            "cn.third-party.refusal",
            f"{GUIDELINES}: stop when a contact refuses further contact",
            "No further contact with a third party who refused it.",
            parties.stop_on_refusal,
        ),
        _content(
            "impersonation",
            "impersonate courts, police or government",
            "prohibited: impersonating courts, police or government",
        ),
        _content("threats", "threaten violence or other harm", "prohibited: violence, threats"),
        _content("insults", "insult the borrower", "prohibited: insults"),
        _content("blacklist", "invoke invented blacklists", "prohibited: invented blacklists"),
        _content(
            "borrow_to_repay",
            "urge the debtor to borrow (another lender, platform, card, friends or family) to "
            "repay",
            "prohibited: pushing the debtor to borrow to repay (以贷还贷)",
        ),
        _content(
            "public_exposure",
            "threaten public notices or spreading private information",
            "prohibited: spreading private information; public notices",
        ),
        _content("extra_fees", "demand extra fees", "prohibited: extra fees"),
        _content(
            "exaggerated",
            "exaggerate the amount or the consequences (family, children, lifelong bans, "
            "criminal liability)",
            "prohibited: exaggerated amounts or consequences",
        ),
        _content(
            "false_powers",
            "claim powers only a court has (freezing accounts, seizing property)",
            "prohibited: exaggerated consequences; fraud",
        ),
        Rule(
            "cn.content.legal-action-claims",
            f"{GUIDELINES}: prohibited: fraud; exaggerated consequences",
            "Collection content must not say a lawsuit or enforcement has been started unless "
            "proceedings are on record.",
            content.legal_action_claims,
        ),
        _content(
            "fraud",
            "ask for payment into a personal account or by other deceptive means",
            "prohibited: fraud",
        ),
        Rule(
            "cn.visit.collectors",
            f"{GUIDELINES}: home visits by at least two collectors; collectors trained before "
            "starting and at least yearly",
            "A visit needs at least two registered collectors trained in the last 12 months.",
            visits.collectors_qualified,
        ),
        Rule(
            "cn.visit.hours",
            f"{GUIDELINES}: no collection contact 22:00-08:00",
            "Visits only in the daytime window, whatever the borrower consented to by phone.",
            hours.visit_hours,
        ),
        Rule(
            "cn.visit.approval",
            BASELINE,
            "A visit needs an approval on record.",
            visits.approval_on_record,
        ),
        Rule(
            "cn.visit.notice",
            BASELINE,
            "A visit needs prior notice to the borrower on record.",
            visits.prior_notice,
        ),
        Rule(
            "cn.visit.vulnerable",
            BASELINE,
            "No visit to a customer flagged vulnerable.",
            visits.not_vulnerable,
        ),
        Rule(
            "cn.pause.plan",
            "《商业银行信用卡业务监督管理办法》 Art. 70 (个性化分期): collection stops while "
            "the plan is kept, resumes if it is broken [secondary]",
            "While a repayment plan is in force, only plan reminders are sent.",
            status.paused_by_plan,
        ),
        Rule(
            "cn.pause.dispute",
            BASELINE,
            "While a dispute is open, collection contacts pause.",
            status.paused_by_dispute,
        ),
        Rule(
            "cn.credit-report.notice",
            "《征信业管理条例》 Art. 15: notify the borrower before reporting negative information",
            "Negative information is reported only after a notice to the borrower is on record.",
            records.notice_before_report,
        ),
        Rule(
            "cn.data.entrustment",
            "《个人信息保护法》 (PIPL) Art. 21; "
            f"{GUIDELINES}: personal data to an agency only under a written entrustment agreement",
            "Personal data goes to an agency only under an entrustment agreement on record.",
            records.entrustment_before_transfer,
        ),
        Rule(
            "cn.retention.recordings",
            "《商业银行信用卡业务监督管理办法》 Art. 68: keep collection recordings at least "
            "2 years",
            "Collection recordings are not purged before the retention period has run.",
            records.retention(from_last_activity=False),
        ),
    ),
)

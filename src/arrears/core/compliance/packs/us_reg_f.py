"""United States: Regulation F (12 CFR part 1006) and the FDCPA it implements.

Hours: §1006.6(b)(1)(i) forbids communication "before 8:00 a.m. and after 9:00 p.m." local
time. This pack treats 21:00 itself as blocked (window [08:00, 21:00)): a call placed at 21:00
runs past it, and a lender can never be looser than the pack.
"""

from __future__ import annotations

from datetime import time

from arrears.core.compliance.limits import Limits
from arrears.core.compliance.pack import Pack, Rule
from arrears.core.compliance.rules import caps, content, hours, parties, records, status, visits

REG_F = "12 CFR 1006 (Regulation F)"
BASELINE = "arrears baseline control (issue 4); no official article in REFERENCES.md"

LIMITS = Limits(
    day_start=time(8, 0),
    day_end=time(21, 0),
    visit_day_start=time(8, 0),
    visit_day_end=time(21, 0),
    max_calls_per_window=7,
    call_window_days=7,
    conversation_quiet_days=7,
    # CFPB Debt Collection Rule FAQs, "Rebutting presumptions" Q1: "two unanswered telephone
    # calls to the same telephone number within five minutes" and "seven telephone calls to
    # the same telephone number within one day" are examples of harassing patterns.
    rapid_succession_minutes=5,
    concentrated_calls_per_day=7,
    min_visit_collectors=2,
    training_valid_months=12,
    record_retention_years=3,
)


PACK = Pack(
    id="us-reg-f",
    title="United States: Regulation F (12 CFR 1006) / FDCPA",
    limits=LIMITS,
    rules=(
        Rule(
            "us.hours",
            f"{REG_F} §1006.6(b)(1)(i): not before 8:00 a.m. or after 9:00 p.m. at the "
            "consumer's location; with conflicting locations, only hours convenient in all",
            "No communication outside 08:00-21:00 in any location the consumer may be in, "
            "without the consumer's prior consent.",
            hours.contact_hours(consent_allowed=True),
        ),
        Rule(
            "us.preferences",
            f"{REG_F} §1006.6(b)(1): no communication at a time known to be inconvenient",
            "Contact only at times the consumer has not said are inconvenient.",
            hours.preferred_times,
        ),
        Rule(
            "us.channel-opt-out",
            f"{REG_F} §1006.14(h): honour a request not to use a medium of communication",
            "A medium the consumer asked us not to use is not used.",
            hours.channel_opt_out,
        ),
        Rule(
            "us.calls-7-in-7",
            f"{REG_F} §1006.14(b)(2)(i)(A); exclusions §1006.14(b)(3)",
            "At most 7 calls to a person about a debt within 7 consecutive days; calls that "
            "do not connect and calls within 7 days of direct prior consent are not counted.",
            caps.calls_in_window,
        ),
        Rule(
            "us.calls-after-conversation",
            f"{REG_F} §1006.14(b)(2)(i)(B); CFPB Debt Collection Rule FAQs, call frequency "
            "presumptions Q6 (a conversation about several debts counts for each)",
            "No call to a person about a debt within 7 days after a telephone conversation "
            "with them about it; the conversation's day is day 1.",
            caps.after_conversation,
        ),
        Rule(
            "us.calls-rapid-succession",
            f"{REG_F} §1006.14(b)(1); CFPB Debt Collection Rule FAQs, rebutting presumptions "
            "Q1 (calls in rapid succession)",
            "Calls to the same number minutes apart may show intent to harass.",
            caps.rapid_succession,
            severity="warn",
        ),
        Rule(
            "us.calls-concentrated",
            f"{REG_F} §1006.14(b)(1); CFPB Debt Collection Rule FAQs, rebutting presumptions "
            "Q1 (calls in a highly concentrated manner)",
            "Many calls to one number in one day may show intent to harass.",
            caps.concentrated_calls,
            severity="warn",
        ),
        Rule(
            "us.third-party.unreachable",
            f"{REG_F} §1006.6(d)(1) (no third-party communication); §1006.10 (location "
            "communications only to find the consumer)",
            "Third parties are contacted only to locate a consumer who cannot be reached.",
            parties.only_when_unreachable,
        ),
        Rule(
            "us.third-party.no-disclosure",
            f"{REG_F} §1006.10: a location communication never says the consumer owes a debt",
            "A message to a third party must not mention the debt or an amount.",
            parties.no_debt_disclosure,
        ),
        Rule(
            "us.third-party.once",
            f"{REG_F} §1006.10: a location communication once per person unless asked",
            "A third party is contacted once, unless they asked to be contacted again.",
            parties.location_once,
        ),
        Rule(
            "us.third-party.refusal",
            f"{REG_F} §1006.14(b)(1) (repeated calls with intent to annoy); §1006.10",
            "No further contact with a third party who refused it.",
            parties.stop_on_refusal,
        ),
        Rule(
            "us.content.impersonation",
            "FDCPA §807(1) (15 U.S.C. 1692e(1)); "
            f"{REG_F} §1006.18: no implied affiliation with government",
            "Content must not claim to come from a court, police or government.",
            content.screen("impersonation"),
        ),
        Rule(
            "us.content.threats",
            f"FDCPA §806(1), §807(4) (15 U.S.C. 1692d(1), 1692e(4)); {REG_F} §1006.14, §1006.18",
            "Content must not threaten violence, arrest or imprisonment.",
            content.screen("threats"),
        ),
        Rule(
            "us.content.insults",
            f"FDCPA §806(2) (15 U.S.C. 1692d(2)); {REG_F} §1006.14",
            "Content must not use obscene, profane or abusive language.",
            content.screen("insults"),
        ),
        Rule(
            "us.content.blacklist",
            f"FDCPA §806(3) (15 U.S.C. 1692d(3)); {REG_F} §1006.14",
            "Content must not threaten lists of consumers who allegedly refuse to pay.",
            content.screen("blacklist"),
        ),
        Rule(
            "us.content.public-exposure",
            f"FDCPA §806(3) (15 U.S.C. 1692d(3)); {REG_F} §1006.6(d)",
            "Content must not threaten to publicise the debt or tell third parties.",
            content.screen("public_exposure"),
        ),
        Rule(
            "us.content.false-powers",
            "FDCPA §807(4), §807(5) (15 U.S.C. 1692e(4), 1692e(5)); "
            f"{REG_F} §1006.18(c)(1)-(2): no threat of seizure, garnishment or action that "
            "cannot legally be taken or is not intended",
            "Content must not threaten seizure of property, garnishment, frozen accounts or "
            "bailiffs.",
            content.screen("false_powers"),
        ),
        Rule(
            "us.content.legal-action-claims",
            "FDCPA §807(2)(A), §807(5), §807(10) (15 U.S.C. 1692e(2)(A), 1692e(5), 1692e(10)); "
            f"{REG_F} §1006.18(b)-(c)",
            "Content must not say a lawsuit has been filed or a judgment entered unless "
            "proceedings are on record.",
            content.legal_action_claims,
        ),
        Rule(
            "us.content.exaggerated",
            "FDCPA §807(2)(A), §807(7) (15 U.S.C. 1692e(2)(A), 1692e(7)); "
            f"{REG_F} §1006.18(b)(2), (c)(6)",
            "Content must not misstate the amount or legal status of the debt, or say the "
            "consumer committed a crime.",
            content.screen("exaggerated"),
        ),
        Rule(
            "us.content.fraud",
            f"FDCPA §807(10) (15 U.S.C. 1692e(10)); {REG_F} §1006.18(c)(3)",
            "Content must not ask for payment into a personal account or by deceptive means.",
            content.screen("fraud"),
        ),
        Rule(
            "us.content.extra-fees",
            f"FDCPA §808(1) (15 U.S.C. 1692f(1)); {REG_F} §1006.22(b)",
            "Content must not demand fees not authorised by the agreement or law.",
            content.screen("extra_fees"),
        ),
        Rule(
            "us.opt-out-notice",
            f"{REG_F} §1006.6(e): every email and text message says how to opt out",
            "Texts and emails must include a simple way to opt out.",
            content.opt_out_notice,
        ),
        Rule(
            "us.visit.hours",
            f"{REG_F} §1006.6(b)(1)(i): an in-person communication is a communication",
            "Visits only 08:00-21:00 local time.",
            hours.visit_hours,
        ),
        Rule(
            "us.visit.collectors",
            BASELINE,
            "A visit needs at least two registered collectors trained in the last 12 months.",
            visits.collectors_qualified,
        ),
        Rule(
            "us.visit.approval",
            BASELINE,
            "A visit needs an approval on record.",
            visits.approval_on_record,
        ),
        Rule(
            "us.visit.notice",
            BASELINE,
            "A visit needs prior notice to the borrower on record.",
            visits.prior_notice,
        ),
        Rule(
            "us.visit.vulnerable",
            BASELINE,
            "No visit to a customer flagged vulnerable.",
            visits.not_vulnerable,
        ),
        Rule(
            "us.pause.plan",
            BASELINE,
            "While a repayment plan is in force, only plan reminders are sent.",
            status.paused_by_plan,
        ),
        Rule(
            "us.pause.dispute",
            "FDCPA §809(b) (15 U.S.C. 1692g(b)); "
            f"{REG_F} §1006.34 (validation period): collection stops until verification",
            "While a dispute is open, collection contacts pause.",
            status.paused_by_dispute,
        ),
        Rule(
            "us.pause.verification",
            f"{REG_F} §1006.38(c)-(d): a written dispute or a request for the original "
            "creditor within the validation period stops collection of the debt until "
            "verification (or the creditor's name and address) is sent",
            "A debt disputed in writing is not collected until verification is sent.",
            status.paused_for_verification,
        ),
        Rule(
            "us.credit-report.notice",
            f"{REG_F} §1006.30(a): no furnishing before communicating with the consumer",
            "Negative information is reported only after a notice to the consumer is on record.",
            records.notice_before_report,
        ),
        Rule(
            "us.retention",
            f"{REG_F} §1006.100: keep records 3 years after the last collection activity",
            "Records and recordings are not purged within 3 years of the last activity on "
            "the debt.",
            records.retention(from_last_activity=True),
        ),
    ),
)

"""United Kingdom: FCA Consumer Credit sourcebook chapter 7 (arrears, default, recovery).

CONC 7.9 requires contact at reasonable times without naming hours; 08:00-21:00 is this pack's
reading, held as data so a lender can tighten it. Citations are to sections of CONC 7 as
summarised in REFERENCES.md.
"""

from __future__ import annotations

from datetime import time

from arrears.core.compliance.limits import Limits
from arrears.core.compliance.pack import Pack, Rule
from arrears.core.compliance.rules import content, hours, parties, status, visits

CONC = "FCA CONC"
BASELINE = "arrears baseline control (issue 4); no official article in REFERENCES.md"

LIMITS = Limits(
    day_start=time(8, 0),
    day_end=time(21, 0),
    visit_day_start=time(8, 0),
    visit_day_end=time(21, 0),
    min_visit_collectors=2,
    training_valid_months=12,
)

PACK = Pack(
    id="uk-conc",
    title="United Kingdom: FCA CONC 7 (arrears, default and recovery)",
    limits=LIMITS,
    rules=(
        Rule(
            "uk.hours",
            f"{CONC} 7.9: no contact at unreasonable times (08:00-21:00 is this pack's reading)",
            "No contact outside 08:00-21:00 in the customer's time zone(s), unless the "
            "customer asked for later contact.",
            hours.contact_hours(consent_allowed=True),
        ),
        Rule(
            "uk.preferences",
            f"{CONC} 7.9: due regard to reasonable requests about when, where and how to "
            "be contacted",
            "Contact only at times the customer asked for (e.g. no calls before noon).",
            hours.preferred_times,
        ),
        Rule(
            "uk.channel-opt-out",
            f"{CONC} 7.9: due regard to reasonable requests about how to be contacted",
            "A channel the customer asked us not to use is not used.",
            hours.channel_opt_out,
        ),
        Rule(
            "uk.third-party.unreachable",
            f"{CONC} 7.9: reasonable steps so that third parties do not learn of the debt",
            "Third parties only when the customer cannot be reached.",
            parties.only_when_unreachable,
        ),
        Rule(
            "uk.third-party.no-disclosure",
            f"{CONC} 7.9: no disclosure of the debt to third parties",
            "A message to a third party must not mention the debt or an amount.",
            parties.no_debt_disclosure,
        ),
        Rule(
            "uk.third-party.refusal",
            f"{CONC} 7.9: due regard to reasonable requests about contact",
            "No further contact with a third party who refused it.",
            parties.stop_on_refusal,
        ),
        Rule(
            "uk.content.impersonation",
            f"{CONC} 7.11.1R-7.11.2G: no official-looking documents or misrepresented authority",
            "Content must not claim to come from a court, police or government, nor look "
            "like an official notice.",
            content.screen("impersonation"),
        ),
        Rule(
            "uk.content.false-powers",
            f"{CONC} 7.11.2G (acting as bailiffs on a court's instructions when untrue); "
            "7.11.6R (stating action can or will be taken when legally it cannot)",
            "Content must not claim bailiffs, seizure of goods, frozen accounts or other "
            "powers the lender does not have.",
            content.screen("false_powers"),
        ),
        Rule(
            "uk.content.legal-action-claims",
            f"{CONC} 7.11.9R: never state that action has been taken when it has not",
            "Content must not say court action has been taken unless proceedings are on record.",
            content.legal_action_claims,
        ),
        Rule(
            "uk.content.trade-body",
            f"{CONC} 7.11.4R: no false claim of membership of a trade body",
            "Content may claim membership only of trade bodies the lender belongs to.",
            content.trade_body_membership,
        ),
        Rule(
            "uk.content.exaggerated",
            f"{CONC} 7.11.1R: no misleading statement of the legal position or consequences",
            "Content must not exaggerate the amount or the consequences of non-payment.",
            content.screen("exaggerated"),
        ),
        Rule(
            "uk.content.fraud",
            f"{CONC} 7.11.1R: not mislead; 7.3.2R: treat customers in arrears fairly",
            "Content must not ask for payment into a personal account or by deceptive means.",
            content.screen("fraud"),
        ),
        Rule(
            "uk.content.pressure-full-payment",
            f"{CONC} 7.3.10: no pressure to pay in unreasonably large amounts",
            "Content must not demand full payment at once or refuse any smaller arrangement.",
            content.screen("pressure_full_payment"),
        ),
        Rule(
            "uk.content.threats",
            f"{CONC} 7.3: treat customers in arrears fairly; no threatening behaviour",
            "Content must not threaten the customer.",
            content.screen("threats"),
        ),
        Rule(
            "uk.content.insults",
            f"{CONC} 7.3: treat customers in arrears fairly",
            "Content must not insult the customer.",
            content.screen("insults"),
        ),
        Rule(
            "uk.content.blacklist",
            f"{CONC} 7.11: no misrepresentation of the legal position or consequences",
            "Content must not invoke invented blacklists.",
            content.screen("blacklist"),
        ),
        Rule(
            "uk.content.borrow-to-repay",
            f"{CONC} 7.3.10: no pressure to borrow to pay",
            "Content must not urge the customer to borrow to repay.",
            content.screen("borrow_to_repay"),
        ),
        Rule(
            "uk.content.public-exposure",
            f"{CONC} 7.9: not act in a way likely to be publicly embarrassing",
            "Content must not threaten to expose the customer publicly.",
            content.screen("public_exposure"),
        ),
        Rule(
            "uk.content.extra-fees",
            f"{CONC} 7.7: interest and charges in arrears",
            "Content must not demand extra fees.",
            content.screen("extra_fees"),
        ),
        Rule(
            "uk.visit.vulnerable",
            f"{CONC} 7 (REFERENCES.md): no visits to customers known to be vulnerable",
            "No visit to a customer flagged vulnerable.",
            visits.not_vulnerable,
        ),
        Rule(
            "uk.visit.notice",
            f"{CONC} 7.9: adequate notice before a proposed visit",
            "A visit needs prior notice to the customer on record.",
            visits.prior_notice,
        ),
        Rule(
            "uk.visit.hours",
            f"{CONC} 7.9: no contact at unreasonable times",
            "Visits only 08:00-21:00 local time.",
            hours.visit_hours,
        ),
        Rule(
            "uk.visit.collectors",
            BASELINE,
            "A visit needs at least two registered collectors trained in the last 12 months.",
            visits.collectors_qualified,
        ),
        Rule(
            "uk.visit.approval",
            BASELINE,
            "A visit needs an approval on record.",
            visits.approval_on_record,
        ),
        Rule(
            "uk.pause.plan",
            f"{CONC} 7.3.4-7.3.5: forbearance for customers in arrears",
            "While an agreed repayment arrangement is in force, only its reminders are sent.",
            status.paused_by_plan,
        ),
        Rule(
            "uk.pause.breathing-space",
            "The Debt Respite Scheme (Breathing Space Moratorium and Mental Health Crisis "
            "Moratorium) (England and Wales) Regulations 2020, reg. 7 (effect of a moratorium: "
            "no interest, fees or charges, no enforcement), reg. 11 (no contact requesting "
            "payment), reg. 26 (breathing space: 60 days), Part 3 (mental health crisis "
            "moratorium: the crisis treatment plus 30 days)",
            "While a breathing space or mental health crisis moratorium is in force, the "
            "moratorium debts are not collected.",
            status.paused_by_moratorium,
        ),
        Rule(
            "uk.pause.dispute",
            f"{CONC} 7.14: settlements and disputed debts",
            "While a dispute is open, collection contacts pause.",
            status.paused_by_dispute,
        ),
    ),
)

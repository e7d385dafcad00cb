//! What is answered: the views both sides are compared in (a voucher, a redemption, a
//! statement, related parties, an application, a cap account, a program's budget and summary), each built from
//! the engine's record by `of` and from the model's by the model; `Answer`, the answer to one
//! command; and `answer_of`, the engine's answer in those terms.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use voucher_ledger::domain::error::LedgerError;
use voucher_ledger::domain::ledger::Outcome;
use voucher_ledger::domain::model::{
    ApplicationStatus, Balance, BudgetView, ClaimSteps, EvidenceKind, ProgramSummary, Redemption,
    RedemptionStatus, RelatedParties, Role, Settlement, Token, Voucher, VoucherApplication,
    VoucherStatus,
};
use voucher_ledger::domain::policy::ProgramCode;
use voucher_ledger::engine::EngineError;

use crate::callers::cause_text;
use crate::values::{Fen, Period};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoucherView {
    pub id: String,
    pub enterprise: String,
    pub program: ProgramCode,
    pub face_value: Fen,
    pub redeemed: Fen,
    pub remaining: Fen,
    pub status: VoucherStatus,
    pub validity: Period,
    pub redeem_by: NaiveDate,
    pub cap_period: Period,
    /// The providers it is bound to; empty: any of its program.
    pub providers: BTreeSet<String>,
    /// The application it was issued on.
    pub application: Option<String>,
    /// Who issued it, and who closed it (revoked; the ledger when it expired).
    pub issued_by: String,
    pub closed_by: Option<String>,
}

impl VoucherView {
    pub fn of(voucher: &Voucher) -> VoucherView {
        VoucherView {
            id: voucher.voucher_id.to_string(),
            enterprise: voucher.enterprise_credit_code.to_string(),
            program: voucher.program,
            face_value: Fen::of(voucher.face_value),
            redeemed: Fen::of(voucher.redeemed),
            remaining: Fen::of(voucher.remaining()),
            status: voucher.status,
            validity: Period {
                first: voucher.validity.first,
                last: voucher.validity.last,
            },
            redeem_by: voucher.redeem_by,
            cap_period: Period {
                first: voucher.cap_period.first,
                last: voucher.cap_period.last,
            },
            providers: voucher
                .provider_credit_codes
                .iter()
                .map(ToString::to_string)
                .collect(),
            application: voucher.application_id.map(|id| id.to_string()),
            issued_by: cause_text(&voucher.issued_by),
            closed_by: voucher.closed_by.as_ref().map(cause_text),
        }
    }
}

/// A document as the engine shows it: kind, SHA-256, reference.
pub type EvidenceView = (EvidenceKind, String, String);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedemptionView {
    pub id: String,
    pub voucher: String,
    pub program: ProgramCode,
    pub provider: String,
    pub enterprise: String,
    pub invoice: String,
    pub invoice_date: NaiveDate,
    pub amount: Fen,
    pub allow_partial: bool,
    pub computed_subsidy: Fen,
    pub subsidy: Fen,
    pub status: RedemptionStatus,
    pub evidence: Vec<EvidenceView>,
    pub reversed_by: Option<Role>,
    /// The statement that paid it.
    pub settlement: Option<String>,
    /// The returned claim it corrects.
    pub corrects: Option<String>,
    /// Whether its enterprise confirmed it (when is the engine's clock).
    pub confirmed: bool,
    /// Why it was disputed or returned, and whether it says when.
    pub closing_reason: Option<String>,
    pub closed: bool,
    pub steps: StepsView,
}

/// Who made each step of a claim ([`crate::callers::Who::text`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepsView {
    pub redeemed: String,
    pub approved: Option<String>,
    /// Rejected, disputed or returned.
    pub closed: Option<String>,
    pub confirmed: Option<String>,
    pub reversed: Option<String>,
}

impl StepsView {
    fn of(steps: &ClaimSteps) -> StepsView {
        StepsView {
            redeemed: cause_text(&steps.redeemed_by),
            approved: steps.approved_by.as_ref().map(cause_text),
            closed: steps.closed_by.as_ref().map(cause_text),
            confirmed: steps.confirmed_by.as_ref().map(cause_text),
            reversed: steps.reversed_by.as_ref().map(cause_text),
        }
    }
}

impl RedemptionView {
    pub fn of(redemption: &Redemption) -> RedemptionView {
        RedemptionView {
            id: redemption.redemption_id.to_string(),
            voucher: redemption.voucher_id.to_string(),
            program: redemption.program,
            provider: redemption.provider_credit_code.to_string(),
            enterprise: redemption.enterprise_credit_code.to_string(),
            invoice: redemption.invoice.number.to_string(),
            invoice_date: redemption.invoice.date,
            amount: Fen::of(redemption.invoice.amount),
            allow_partial: redemption.allow_partial,
            computed_subsidy: Fen::of(redemption.computed_subsidy),
            subsidy: Fen::of(redemption.subsidy),
            status: redemption.status,
            evidence: redemption
                .evidence
                .iter()
                .map(|document| {
                    (
                        document.kind,
                        document.sha256.as_str().to_owned(),
                        document.reference.to_string(),
                    )
                })
                .collect(),
            reversed_by: redemption.reversed_by,
            settlement: redemption.settlement_id.map(|id| id.to_string()),
            corrects: redemption.corrects.map(|id| id.to_string()),
            confirmed: redemption.confirmed_at.is_some(),
            closing_reason: redemption.closing_reason.as_ref().map(ToString::to_string),
            closed: redemption.closed_at.is_some(),
            steps: StepsView::of(&redemption.steps),
        }
    }
}

/// An application (申领) as the engine shows it (when it was made and decided is the engine's
/// clock; whether it was decided is compared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationView {
    pub id: String,
    pub request_id: String,
    pub enterprise: String,
    pub program: ProgramCode,
    pub amount: Fen,
    pub providers: BTreeSet<String>,
    pub contract: String,
    pub contract_sha256: String,
    pub status: ApplicationStatus,
    pub decided: bool,
    pub voucher: Option<String>,
    pub rejection_reason: Option<String>,
    pub applied_by: String,
    /// Who approved or rejected it.
    pub decided_by: Option<String>,
}

impl ApplicationView {
    pub fn of(application: &VoucherApplication) -> ApplicationView {
        ApplicationView {
            id: application.application_id.to_string(),
            request_id: application.request_id.to_string(),
            enterprise: application.enterprise_credit_code.to_string(),
            program: application.program,
            amount: Fen::of(application.amount),
            providers: application
                .provider_credit_codes
                .iter()
                .map(ToString::to_string)
                .collect(),
            contract: application.contract_number.to_string(),
            contract_sha256: application.contract_sha256.as_str().to_owned(),
            status: application.status,
            decided: application.decided_at.is_some(),
            voucher: application.voucher_id.map(|id| id.to_string()),
            rejection_reason: application
                .rejection_reason
                .as_ref()
                .map(ToString::to_string),
            applied_by: cause_text(&application.applied_by),
            decided_by: application.decided_by.as_ref().map(cause_text),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettlementView {
    pub id: String,
    pub request_id: String,
    pub provider: String,
    pub program: ProgramCode,
    pub up_to: NaiveDate,
    /// The redemption ids, in the statement's order.
    pub lines: Vec<String>,
    pub gross: Fen,
    /// (redemption id, amount), in the statement's order.
    pub clawbacks: Vec<(String, Fen)>,
    pub clawed_back: Fen,
    pub net: Fen,
    pub more_pending: bool,
    /// (bank reference, day paid, who recorded it).
    pub payment: Option<(String, NaiveDate, String)>,
    pub created_by: String,
}

impl SettlementView {
    pub fn of(settlement: &Settlement) -> SettlementView {
        SettlementView {
            id: settlement.settlement_id.to_string(),
            request_id: settlement.request_id.to_string(),
            provider: settlement.provider_credit_code.to_string(),
            program: settlement.program,
            up_to: settlement.up_to,
            lines: settlement
                .redemption_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            gross: Fen::of_total(settlement.gross),
            clawbacks: settlement
                .clawbacks
                .iter()
                .map(|clawback| (clawback.redemption_id.to_string(), Fen::of(clawback.amount)))
                .collect(),
            clawed_back: Fen::of_total(settlement.clawed_back),
            net: Fen::of_decimal(settlement.net()),
            more_pending: settlement.more_pending,
            payment: settlement.payment.as_ref().map(|payment| {
                (
                    payment.bank_reference.to_string(),
                    payment.paid_on,
                    cause_text(&payment.recorded_by),
                )
            }),
            created_by: cause_text(&settlement.created_by),
        }
    }
}

/// A token as the engine shows it (its secret's hash and when are the engine's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenView {
    pub id: String,
    pub role: Role,
    pub provider: Option<String>,
    pub enterprise: Option<String>,
    pub programs: Vec<ProgramCode>,
    pub active: bool,
}

impl TokenView {
    pub fn of(token: &Token) -> TokenView {
        TokenView {
            id: token.token_id.to_string(),
            role: token.role,
            provider: token.provider_credit_code.map(|code| code.to_string()),
            enterprise: token.enterprise_credit_code.map(|code| code.to_string()),
            programs: token.programs.iter().copied().collect(),
            active: token.is_active(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelatedPartiesView {
    pub provider: String,
    pub enterprise: String,
    pub reason: String,
}

impl RelatedPartiesView {
    pub fn of(parties: &RelatedParties) -> RelatedPartiesView {
        RelatedPartiesView {
            provider: parties.provider_credit_code.to_string(),
            enterprise: parties.enterprise_credit_code.to_string(),
            reason: parties.reason.to_string(),
        }
    }
}

/// What a program period's totals (or one provider's share of them) add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Redemptions accepted, whatever became of them.
    pub redemptions: u64,
    /// Net of reversals and rejections.
    pub redeemed: Fen,
    /// Subsidy given back by reversals (clawbacks included).
    pub reversed: Fen,
    /// Subsidy released by rejections, disputes and returns.
    pub rejected: Fen,
    /// Paid and not recovered.
    pub settled: Fen,
}

/// A program in one cap period, as the engine's summary shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryView {
    pub program: ProgramCode,
    pub period: Period,
    /// Enterprises with a cap account (a voucher issued) in the period.
    pub enterprises: u64,
    pub vouchers: u64,
    pub committed: Fen,
    pub totals: Totals,
    pub budget: Option<Fen>,
    /// By provider; providers with nothing are left out.
    pub providers: BTreeMap<String, Totals>,
}

impl SummaryView {
    pub fn of(summary: &ProgramSummary) -> SummaryView {
        let totals = &summary.totals;
        SummaryView {
            program: summary.program_period.program,
            period: Period {
                first: summary.period.first,
                last: summary.period.last,
            },
            enterprises: totals.enterprises,
            vouchers: totals.vouchers,
            committed: Fen::of_total(totals.committed),
            totals: Totals {
                redemptions: totals.redemptions,
                redeemed: Fen::of_total(totals.redeemed),
                reversed: Fen::of_total(totals.reversed),
                rejected: Fen::of_total(totals.rejected),
                settled: Fen::of_total(totals.settled),
            },
            budget: summary.budget.map(Fen::of),
            providers: summary
                .providers
                .iter()
                .map(|(code, _, totals)| {
                    (
                        code.to_string(),
                        Totals {
                            redemptions: totals.redemptions,
                            redeemed: Fen::of_total(totals.redeemed),
                            reversed: Fen::of_total(totals.reversed),
                            rejected: Fen::of_total(totals.rejected),
                            settled: Fen::of_total(totals.settled),
                        },
                    )
                })
                .filter(|(_, totals)| *totals != Totals::default())
                .collect(),
        }
    }
}

/// A program's budget in one cap period, as the engine's budget query shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetLine {
    pub program: ProgramCode,
    pub period: Period,
    pub budget: Option<Fen>,
    pub committed: Fen,
    pub redeemed: Fen,
    pub settled: Fen,
}

impl BudgetLine {
    pub fn of(view: &BudgetView) -> BudgetLine {
        BudgetLine {
            program: view.program_period.program,
            period: Period {
                first: view.period.first,
                last: view.period.last,
            },
            budget: view.budget.map(Fen::of),
            committed: Fen::of_total(view.committed),
            redeemed: Fen::of_total(view.redeemed),
            settled: Fen::of_total(view.settled),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceView {
    pub period: Period,
    pub cap: Fen,
    pub committed: Fen,
    pub redeemed: Fen,
    pub available_to_issue: Fen,
    pub outstanding: Fen,
    /// Without years whose total is zero.
    pub redeemed_by_year: BTreeMap<i32, Fen>,
}

impl BalanceView {
    pub fn of(balance: &Balance) -> BalanceView {
        BalanceView {
            period: Period {
                first: balance.period.first,
                last: balance.period.last,
            },
            cap: Fen::of(balance.cap),
            committed: Fen::of(balance.committed),
            redeemed: Fen::of(balance.redeemed),
            available_to_issue: Fen::of(balance.available_to_issue),
            outstanding: Fen::of(balance.outstanding),
            redeemed_by_year: balance
                .redeemed_by_year
                .iter()
                .filter(|(_, total)| !total.is_zero())
                .map(|(year, total)| (*year, Fen::of(*total)))
                .collect(),
        }
    }
}

/// The answer to one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Voucher(VoucherView),
    Redemption(RedemptionView),
    Settlement(SettlementView),
    RelatedParties(RelatedPartiesView),
    Application(ApplicationView),
    Token(TokenView),
    /// A party registered: (credit code, name, the program of a provider).
    Party(String, String, Option<ProgramCode>),
    Refused {
        reason: String,
        remaining: Option<Fen>,
    },
    /// A step with no answer (time passing, a restart, a retry with nothing to retry).
    Done,
    /// The engine failed rather than answer (never expected).
    Failed(String),
}

pub fn refused(reason: &str) -> Answer {
    Answer::Refused {
        reason: reason.to_owned(),
        remaining: None,
    }
}

pub fn refused_with_remaining(reason: &str, remaining: Fen) -> Answer {
    Answer::Refused {
        reason: reason.to_owned(),
        remaining: Some(remaining),
    }
}

pub fn answer_of(result: Result<Outcome, EngineError>) -> Answer {
    match result {
        Ok(Outcome::Voucher(voucher)) => Answer::Voucher(VoucherView::of(&voucher)),
        Ok(Outcome::Redemption(redemption)) => Answer::Redemption(RedemptionView::of(&redemption)),
        Ok(Outcome::Settlement(settlement)) => Answer::Settlement(SettlementView::of(&settlement)),
        Ok(Outcome::RelatedParties(parties)) => {
            Answer::RelatedParties(RelatedPartiesView::of(&parties))
        }
        Ok(Outcome::Application(application)) => {
            Answer::Application(ApplicationView::of(&application))
        }
        Ok(Outcome::Token(token)) => Answer::Token(TokenView::of(&token)),
        Ok(Outcome::Enterprise(enterprise)) => Answer::Party(
            enterprise.credit_code.to_string(),
            enterprise.name.to_string(),
            None,
        ),
        Ok(Outcome::Provider(provider)) => Answer::Party(
            provider.credit_code.to_string(),
            provider.name.to_string(),
            Some(provider.program),
        ),
        Ok(other) => Answer::Failed(format!("unexpected outcome {other:?}")),
        Err(EngineError::Ledger(error)) => Answer::Refused {
            reason: error.reason().as_str().to_owned(),
            remaining: match &error {
                LedgerError::Refused(refusal) => refusal.remaining.map(Fen::of),
                _ => None,
            },
        },
        Err(other) => Answer::Failed(other.to_string()),
    }
}

//! The model's records: a voucher, a redemption (with what became of its clawback, if it was
//! reversed after it was paid, and who made each of its steps), a statement, an application
//! and a token, each with the view the engine's record must equal.

use chrono::NaiveDate;
use voucher_ledger::domain::model::{ApplicationStatus, RedemptionStatus, Role, VoucherStatus};
use voucher_ledger::domain::policy::ProgramCode;

use crate::answers::{
    ApplicationView, RedemptionView, SettlementView, StepsView, TokenView, VoucherView,
};
use crate::callers::{Who, token_id_text};
use crate::ops::{ApplicationPayload, RedeemPayload, SettlePayload};
use crate::rules::ENTERPRISES;
use crate::values::{
    Fen, Period, application_id_text, contract_number_text, contract_sha256, invoice_number_text,
    redemption_id_text, settlement_id_text, voucher_id_text,
};

#[derive(Clone, Debug)]
pub struct ModelVoucher {
    pub number: u64,
    pub enterprise: usize,
    pub program: ProgramCode,
    pub face_value: Fen,
    pub redeemed: Fen,
    pub status: VoucherStatus,
    pub validity: Period,
    pub redeem_by: NaiveDate,
    pub cap_period: Period,
    /// The providers it is bound to (none: any of its program).
    pub providers: Vec<&'static str>,
    /// The application (number) it was issued on.
    pub application: Option<u64>,
    pub issued_by: Who,
    /// Who revoked it; the ledger when it expired.
    pub closed_by: Option<Who>,
}

impl ModelVoucher {
    pub fn is_active(&self) -> bool {
        self.status == VoucherStatus::Active
    }

    /// Under the cap: the face value while active; once closed, only what it redeemed (the
    /// rest is released, and so is what a later reversal gives back).
    pub fn committed(&self) -> Fen {
        if self.is_active() {
            self.face_value
        } else {
            self.redeemed
        }
    }

    pub fn remaining(&self) -> Fen {
        if self.is_active() {
            self.face_value.minus(self.redeemed)
        } else {
            Fen(0)
        }
    }

    /// Whether `provider` may redeem it: any, when it is bound to none.
    pub fn admits(&self, provider: &str) -> bool {
        self.providers.is_empty() || self.providers.contains(&provider)
    }

    pub fn view(&self) -> VoucherView {
        VoucherView {
            id: voucher_id_text(self.number),
            enterprise: ENTERPRISES[self.enterprise].to_owned(),
            program: self.program,
            face_value: self.face_value,
            redeemed: self.redeemed,
            remaining: self.remaining(),
            status: self.status,
            validity: self.validity,
            redeem_by: self.redeem_by,
            cap_period: self.cap_period,
            providers: self
                .providers
                .iter()
                .map(|code| (*code).to_owned())
                .collect(),
            application: self.application.map(application_id_text),
            issued_by: self.issued_by.text(),
            closed_by: self.closed_by.map(Who::text),
        }
    }
}

/// What became of a settled redemption reversed by the bureau: the subsidy to recover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clawback {
    /// Never settled, or settled and not reversed.
    None,
    /// Booked, waiting for the provider's next statement.
    Open,
    /// Netted in statement number n.
    Netted(u64),
}

#[derive(Clone, Debug)]
pub struct ModelRedemption {
    pub number: u64,
    pub payload: RedeemPayload,
    pub program: ProgramCode,
    pub computed_subsidy: Fen,
    pub subsidy: Fen,
    pub status: RedemptionStatus,
    pub reversed_by: Option<Role>,
    /// The statement that paid it, kept when it is clawed back.
    pub settlement: Option<u64>,
    pub clawback: Clawback,
    /// The returned claim (number) it corrects.
    pub corrects: Option<u64>,
    /// Whether its enterprise confirmed it.
    pub confirmed: bool,
    /// Why it was disputed or returned.
    pub closing_reason: Option<&'static str>,
    pub steps: Steps,
}

/// Who made each step of a claim.
#[derive(Clone, Copy, Debug)]
pub struct Steps {
    pub redeemed_by: Who,
    pub approved_by: Option<Who>,
    /// Who rejected, returned or disputed it.
    pub closed_by: Option<Who>,
    pub confirmed_by: Option<Who>,
    pub reversed_by: Option<Who>,
}

impl Steps {
    pub fn filed_by(redeemed_by: Who) -> Steps {
        Steps {
            redeemed_by,
            approved_by: None,
            closed_by: None,
            confirmed_by: None,
            reversed_by: None,
        }
    }

    fn view(self) -> StepsView {
        StepsView {
            redeemed: self.redeemed_by.text(),
            approved: self.approved_by.map(Who::text),
            closed: self.closed_by.map(Who::text),
            confirmed: self.confirmed_by.map(Who::text),
            reversed: self.reversed_by.map(Who::text),
        }
    }
}

impl ModelRedemption {
    /// Whether the subsidy counts under the cap (and on the voucher).
    pub fn counts(&self) -> bool {
        matches!(
            self.status,
            RedemptionStatus::Accepted | RedemptionStatus::Approved | RedemptionStatus::Settled
        )
    }

    /// Paid out and not recovered: settled, or clawed back with the clawback not yet netted.
    pub fn paid(&self) -> bool {
        self.status == RedemptionStatus::Settled || self.clawback == Clawback::Open
    }

    pub fn view(&self) -> RedemptionView {
        RedemptionView {
            id: redemption_id_text(self.number),
            voucher: voucher_id_text(self.payload.voucher),
            program: self.program,
            provider: self.payload.seller.to_owned(),
            enterprise: self.payload.buyer.to_owned(),
            invoice: invoice_number_text(self.payload.invoice),
            invoice_date: self.payload.invoice_date,
            amount: Fen::parse(self.payload.amount),
            allow_partial: self.payload.allow_partial,
            computed_subsidy: self.computed_subsidy,
            subsidy: self.subsidy,
            status: self.status,
            evidence: self
                .payload
                .evidence
                .iter()
                .map(|document| {
                    (
                        document.kind,
                        document.sha256(),
                        document.reference.to_owned(),
                    )
                })
                .collect(),
            reversed_by: self.reversed_by,
            settlement: self.settlement.map(settlement_id_text),
            corrects: self.corrects.map(redemption_id_text),
            confirmed: self.confirmed,
            closing_reason: self.closing_reason.map(str::to_owned),
            closed: self.closing_reason.is_some(),
            steps: self.steps.view(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ModelApplication {
    pub number: u64,
    pub payload: ApplicationPayload,
    pub status: ApplicationStatus,
    /// The voucher (number) issued on it.
    pub voucher: Option<u64>,
    pub rejection_reason: Option<&'static str>,
    pub applied_by: Who,
    pub decided_by: Option<Who>,
}

impl ModelApplication {
    /// Whether it holds its contract under its program: until it is rejected.
    pub fn is_live(&self) -> bool {
        self.status != ApplicationStatus::Rejected
    }

    pub fn view(&self) -> ApplicationView {
        let payload = &self.payload;
        ApplicationView {
            id: application_id_text(self.number),
            request_id: payload.request_id.clone(),
            enterprise: payload.enterprise.to_owned(),
            program: payload.program,
            amount: Fen::parse(payload.amount),
            providers: payload
                .providers
                .iter()
                .map(|code| (*code).to_owned())
                .collect(),
            contract: contract_number_text(payload.contract),
            contract_sha256: contract_sha256(payload.contract),
            status: self.status,
            decided: self.status != ApplicationStatus::Pending,
            voucher: self.voucher.map(voucher_id_text),
            rejection_reason: self.rejection_reason.map(str::to_owned),
            applied_by: self.applied_by.text(),
            decided_by: self.decided_by.map(Who::text),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ModelSettlement {
    pub number: u64,
    pub payload: SettlePayload,
    /// Redemption numbers.
    pub lines: Vec<u64>,
    pub gross: Fen,
    /// (redemption number, amount).
    pub clawbacks: Vec<(u64, Fen)>,
    pub clawed_back: Fen,
    /// The model's today when the statement was made.
    pub made_on: NaiveDate,
    /// (bank reference, day paid, who recorded it).
    pub payment: Option<(&'static str, NaiveDate, Who)>,
    pub created_by: Who,
}

impl ModelSettlement {
    pub fn view(&self) -> SettlementView {
        SettlementView {
            id: settlement_id_text(self.number),
            request_id: self.payload.request_id.clone(),
            provider: self.payload.provider.to_owned(),
            program: self.payload.program,
            up_to: self.payload.up_to,
            lines: self.lines.iter().map(|n| redemption_id_text(*n)).collect(),
            gross: self.gross,
            clawbacks: self
                .clawbacks
                .iter()
                .map(|(n, amount)| (redemption_id_text(*n), *amount))
                .collect(),
            clawed_back: self.clawed_back,
            net: self.gross.minus(self.clawed_back),
            more_pending: false,
            payment: self
                .payment
                .map(|(reference, paid_on, by)| (reference.to_owned(), paid_on, by.text())),
            created_by: self.created_by.text(),
        }
    }
}

/// A token a history created (the callers' own are not in the ledger).
#[derive(Clone, Debug)]
pub struct ModelToken {
    pub number: u64,
    pub role: Role,
    pub provider: Option<&'static str>,
    pub enterprise: Option<&'static str>,
    pub programs: Vec<ProgramCode>,
    pub active: bool,
}

impl ModelToken {
    pub fn view(&self) -> TokenView {
        TokenView {
            id: token_id_text(self.number),
            role: self.role,
            provider: self.provider.map(str::to_owned),
            enterprise: self.enterprise.map(str::to_owned),
            programs: self.programs.clone(),
            active: self.active,
        }
    }
}

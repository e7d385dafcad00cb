//! The model's records: a voucher, a redemption (with what became of its clawback, if it was
//! reversed after it was paid) and a statement, each with the view the engine's record must
//! equal.

use chrono::NaiveDate;
use voucher_ledger::domain::model::{RedemptionStatus, Role, VoucherStatus};
use voucher_ledger::domain::policy::ProgramCode;

use crate::answers::{RedemptionView, SettlementView, VoucherView};
use crate::ops::{RedeemPayload, SettlePayload};
use crate::rules::ENTERPRISES;
use crate::values::{
    Fen, Period, invoice_number_text, redemption_id_text, settlement_id_text, voucher_id_text,
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
    /// (bank reference, day paid).
    pub payment: Option<(&'static str, NaiveDate)>,
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
                .map(|(reference, paid_on)| (reference.to_owned(), paid_on)),
        }
    }
}

//! A ledger that keeps only its working state, and recalls closed history when a decision
//! needs it.
//!
//! Replayed from its log (`Ledger::replay`: verify, restore, the tests) a ledger holds every
//! redemption: its history is complete. The service's ledger holds only its resident state
//! ([`ResidentState`]: enterprises, providers, tokens, vouchers, cap accounts, totals,
//! statements, the settlement queue with each claim's invoice date, and open clawbacks), which
//! grows with the number of enterprises and open claims, never with the number of redemptions.
//!
//! Before a command is decided, [`Ledger::recall`] reads from a [`History`] (the store, at the
//! state after the last batch) every redemption the command may touch: the one its invoice
//! number names, the one it reviews or reverses, the claims and clawbacks a statement would
//! gather. After the batch is stored, [`Ledger::forget_history`] lets them go. A redemption the
//! ledger does not hold and the history does not know does not exist; one the ledger holds is
//! newer than the history's copy (it changed in this batch) and is kept.
//!
//! An event applied to a ledger that lacks what it touches stops the process, as any other
//! contradiction in `apply` does: a forgotten recall can never decide on missing facts.

use std::sync::Arc;

use chrono::NaiveDate;

use super::Ledger;
use super::settle::SETTLEMENT_LINES_MAX;
use crate::domain::command::Command;
use crate::domain::credit_code::CreditCode;
use crate::domain::event::Event;
use crate::domain::ids::RedemptionId;
use crate::domain::invoice::InvoiceNumber;
use crate::domain::model::{
    CapAccount, Clawback, Enterprise, ProgramPeriod, ProgramTotals, Provider, ProviderTotals,
    PublicNotice, Redemption, RelatedParties, Settlement, Token, Voucher, VoucherApplication,
};
use crate::domain::policy::{Policy, ProgramCode};

/// The redemptions a ledger does not keep in memory, as of the last stored batch.
pub trait History {
    fn redemption(&self, redemption_id: RedemptionId) -> Result<Option<Redemption>, HistoryError>;
    /// The redemption that used this invoice number, if one did.
    fn redemption_of_invoice(
        &self,
        number: &InvoiceNumber,
    ) -> Result<Option<RedemptionId>, HistoryError>;
}

/// History could not be read: nothing may be decided on it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the ledger's history cannot be read: {0}")]
pub struct HistoryError(pub String);

/// An approved claim waiting in a provider's settlement queue under a program, with its
/// invoice date.
pub type QueuedClaim = ((CreditCode, ProgramCode), RedemptionId, NaiveDate);

/// Everything a ledger keeps in memory between batches, as a store holds it.
#[derive(Clone, Debug, Default)]
pub struct ResidentState {
    pub adopted_policy_fingerprint: Option<String>,
    pub enterprises: Vec<Enterprise>,
    pub providers: Vec<Provider>,
    pub tokens: Vec<Token>,
    pub vouchers: Vec<Voucher>,
    pub cap_accounts: Vec<CapAccount>,
    pub program_totals: Vec<(ProgramPeriod, ProgramTotals)>,
    pub provider_totals: Vec<((ProgramPeriod, CreditCode), ProviderTotals)>,
    pub settlements: Vec<Settlement>,
    pub related_parties: Vec<RelatedParties>,
    /// Approved, unsettled claims and their invoice dates.
    pub settleable: Vec<QueuedClaim>,
    /// Clawbacks not yet netted, in the order they were booked.
    pub receivables: Vec<((CreditCode, ProgramCode), Vec<Clawback>)>,
    /// The last redemption id given out.
    pub last_redemption_id: Option<RedemptionId>,
    pub applications: Vec<VoucherApplication>,
    pub notices: Vec<PublicNotice>,
}

impl Ledger {
    /// A ledger from its resident state, without its history: it decides only through
    /// [`Ledger::recall`]. Check it with [`Ledger::check_invariants`] before serving from it.
    pub fn from_resident(policy: Arc<Policy>, resident: ResidentState) -> Ledger {
        let mut ledger = Ledger::new(policy);
        ledger.history_complete = false;
        ledger.adopted_policy_fingerprint = resident.adopted_policy_fingerprint;
        for enterprise in resident.enterprises {
            ledger
                .enterprises
                .insert(enterprise.credit_code, enterprise);
        }
        for provider in resident.providers {
            ledger.providers.insert(provider.credit_code, provider);
        }
        for token in resident.tokens {
            ledger
                .token_by_secret
                .insert(token.secret_sha256.clone(), token.token_id);
            ledger.tokens.insert(token.token_id, token);
        }
        for voucher in resident.vouchers {
            ledger
                .voucher_by_request
                .insert(voucher.request.request_id.clone(), voucher.voucher_id);
            if voucher.is_active() {
                ledger
                    .active_by_redeem_by
                    .insert((voucher.redeem_by, voucher.voucher_id));
            }
            ledger.vouchers.insert(voucher.voucher_id, voucher);
        }
        for account in resident.cap_accounts {
            ledger.cap_accounts.insert(account.key, account);
        }
        ledger.program_totals = resident.program_totals.into_iter().collect();
        ledger.provider_totals = resident.provider_totals.into_iter().collect();
        for settlement in resident.settlements {
            ledger
                .settlement_by_request
                .insert(settlement.request_id.clone(), settlement.settlement_id);
            ledger
                .settlements
                .insert(settlement.settlement_id, settlement);
        }
        for parties in resident.related_parties {
            let key = (parties.provider_credit_code, parties.enterprise_credit_code);
            ledger.related_parties.insert(key, parties);
        }
        for (key, redemption_id, invoice_date) in resident.settleable {
            let settleable = ledger.settleable.entry(key).or_default();
            settleable.insert(redemption_id, invoice_date);
        }
        ledger.receivables = resident
            .receivables
            .into_iter()
            .filter(|(_, clawbacks)| !clawbacks.is_empty())
            .collect();
        ledger.last_token_id = ledger.tokens.keys().next_back().copied();
        ledger.last_voucher_id = ledger.vouchers.keys().next_back().copied();
        ledger.last_settlement_id = ledger.settlements.keys().next_back().copied();
        ledger.last_redemption_id = resident.last_redemption_id;
        for application in resident.applications {
            ledger.index_application(&application);
            ledger
                .applications
                .insert(application.application_id, application);
        }
        ledger.last_application_id = ledger.applications.keys().next_back().copied();
        for notice in resident.notices {
            ledger.notices.insert(notice.notice_id, notice);
        }
        ledger.last_notice_id = ledger.notices.keys().next_back().copied();
        ledger
    }

    /// Whether every redemption ever made is in memory (a replay), or only the working set.
    pub fn history_complete(&self) -> bool {
        self.history_complete
    }

    /// Drops the redemptions recalled or made by the last batch, once they are stored: from
    /// here on the ledger keeps only its resident state. A complete ledger becomes one that
    /// recalls.
    pub fn forget_history(&mut self) {
        self.history_complete = false;
        self.redemptions.clear();
        self.redemption_by_invoice.clear();
        // A batch is bounded, so is what it recalled; a replayed history is not, and goes.
        self.redemptions.shrink_to(RECALLED_KEPT_MAX);
        self.redemption_by_invoice.shrink_to(RECALLED_KEPT_MAX);
    }

    /// Reads from `history` every redemption `command` may touch and this ledger does not
    /// hold. Does nothing when the history is complete.
    pub fn recall(&mut self, command: &Command, history: &dyn History) -> Result<(), HistoryError> {
        if self.history_complete {
            return Ok(());
        }
        match command {
            Command::Redeem(redeem) => self.recall_invoice(&redeem.invoice.number, history),
            Command::ReverseRedemption { redemption_id, .. }
            | Command::ApproveRedemption { redemption_id }
            | Command::RejectRedemption { redemption_id, .. }
            | Command::ConfirmRedemption { redemption_id, .. }
            | Command::DisputeRedemption { redemption_id, .. }
            | Command::ReturnRedemption { redemption_id, .. } => {
                self.recall_redemption(*redemption_id, history)
            }
            Command::PublishNotice(request) => {
                for redemption_id in &request.redemption_ids {
                    self.recall_redemption(*redemption_id, history)?;
                }
                Ok(())
            }
            Command::CreateSettlement(request) => {
                let key = (request.provider_credit_code, request.program);
                let lines: Vec<RedemptionId> = self.gathered_lines(&key, request.up_to).collect();
                let clawed: Vec<RedemptionId> = self
                    .netted_clawbacks(&key)
                    .iter()
                    .map(|clawback| clawback.redemption_id)
                    .collect();
                for redemption_id in lines.into_iter().chain(clawed) {
                    self.recall_redemption(redemption_id, history)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Reads from `history` every redemption `event` touches (recovery applies events that
    /// were decided before a crash, on a ledger that keeps no history).
    pub fn recall_for_event(
        &mut self,
        event: &Event,
        history: &dyn History,
    ) -> Result<(), HistoryError> {
        if self.history_complete {
            return Ok(());
        }
        match event {
            Event::RedemptionAccepted { redemption } => {
                self.recall_invoice(&redemption.invoice.number, history)
            }
            Event::RedemptionReversed { redemption_id, .. }
            | Event::RedemptionApproved { redemption_id, .. }
            | Event::RedemptionRejected { redemption_id, .. }
            | Event::RedemptionConfirmed { redemption_id, .. }
            | Event::RedemptionDisputed { redemption_id, .. }
            | Event::RedemptionReturned { redemption_id, .. } => {
                self.recall_redemption(*redemption_id, history)
            }
            Event::SettlementCreated { settlement } => {
                let clawed = settlement.clawbacks.iter().map(|c| c.redemption_id);
                for redemption_id in settlement.redemption_ids.iter().copied().chain(clawed) {
                    self.recall_redemption(redemption_id, history)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The approved claims a statement up to `up_to` gathers: in claim order, one more than a
    /// statement holds (to know whether claims are left for the next one).
    pub(super) fn gathered_lines(
        &self,
        key: &(CreditCode, ProgramCode),
        up_to: NaiveDate,
    ) -> impl Iterator<Item = RedemptionId> + '_ {
        self.settleable
            .get(key)
            .into_iter()
            .flatten()
            .filter(move |(_, invoice_date)| **invoice_date <= up_to)
            .map(|(redemption_id, _)| *redemption_id)
            .take(SETTLEMENT_LINES_MAX + 1)
    }

    /// The clawbacks a statement nets: the oldest booked, at most a statement's lines.
    pub(super) fn netted_clawbacks(&self, key: &(CreditCode, ProgramCode)) -> &[Clawback] {
        let open = self.receivables.get(key).map_or(&[][..], Vec::as_slice);
        &open[..open.len().min(SETTLEMENT_LINES_MAX)]
    }

    fn recall_invoice(
        &mut self,
        number: &InvoiceNumber,
        history: &dyn History,
    ) -> Result<(), HistoryError> {
        if self.redemption_by_invoice.contains_key(number) {
            return Ok(());
        }
        let Some(redemption_id) = history.redemption_of_invoice(number)? else {
            return Ok(());
        };
        self.recall_redemption(redemption_id, history)?;
        // Indexed here and only here: a claim recalled by its id may be one its invoice's
        // correction replaced, and the index names the newest.
        match self.redemptions.get(&redemption_id) {
            Some(redemption) if redemption.invoice.number == *number => {
                self.redemption_by_invoice
                    .insert(number.clone(), redemption_id);
                Ok(())
            }
            _ => Err(HistoryError(format!(
                "invoice {number} is indexed to {redemption_id}, which does not hold it"
            ))),
        }
    }

    fn recall_redemption(
        &mut self,
        redemption_id: RedemptionId,
        history: &dyn History,
    ) -> Result<(), HistoryError> {
        if self.redemptions.contains_key(&redemption_id) {
            return Ok(());
        }
        let Some(redemption) = history.redemption(redemption_id)? else {
            return Ok(());
        };
        if redemption.redemption_id != redemption_id {
            return Err(HistoryError(format!(
                "{redemption_id} was read back as {}",
                redemption.redemption_id
            )));
        }
        self.redemptions.insert(redemption_id, redemption);
        Ok(())
    }

    /// The resident state without the history (what a store keeps for [`Ledger::from_resident`]
    /// to load), to compare a live ledger with a replay.
    pub fn resident_equals(&self, other: &Ledger) -> bool {
        self.adopted_policy_fingerprint == other.adopted_policy_fingerprint
            && self.enterprises == other.enterprises
            && self.providers == other.providers
            && self.tokens == other.tokens
            && self.token_by_secret == other.token_by_secret
            && self.vouchers == other.vouchers
            && self.voucher_by_request == other.voucher_by_request
            && self.cap_accounts == other.cap_accounts
            && self.program_totals == other.program_totals
            && self.provider_totals == other.provider_totals
            && self.settleable == other.settleable
            && self.receivables == other.receivables
            && self.settlements == other.settlements
            && self.settlement_by_request == other.settlement_by_request
            && self.related_parties == other.related_parties
            && self.active_by_redeem_by == other.active_by_redeem_by
            && self.last_token_id == other.last_token_id
            && self.last_voucher_id == other.last_voucher_id
            && self.last_redemption_id == other.last_redemption_id
            && self.last_settlement_id == other.last_settlement_id
            && self.applications == other.applications
            && self.application_by_request == other.application_by_request
            && self.live_application_by_contract == other.live_application_by_contract
            && self.notices == other.notices
            && self.last_application_id == other.last_application_id
            && self.last_notice_id == other.last_notice_id
    }
}

/// The capacity the recalled working set keeps between batches.
const RECALLED_KEPT_MAX: usize = 4096;

//! The ledger state machine: the in-memory state, and the one way to change it.
//!
//! [`Ledger::execute`] takes a checked command and a [`Clock`], decides with the rules
//! ([`decide`]) which events follow, applies them ([`apply`]), and returns the events and the
//! record the caller asked about. The same `apply` rebuilds the state from the event log, so
//! the live state and a replay can never disagree. Nothing here does I/O or reads a clock.

mod access;
mod apply;
mod decide;
mod duties;
mod enterprise;
mod history;
mod invariants;
mod redeem;
mod settle;

use decide::Decision;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;

use super::credit_code::CreditCode;
use super::dates::Clock;
use super::error::LedgerError;
use super::event::{Event, LoggedEvent};
use super::ids::{ApplicationId, NoticeId, RedemptionId, SettlementId, TokenId, VoucherId};
use super::invoice::InvoiceNumber;
use super::model::{
    Caller, CapAccount, CapKey, Clawback, Enterprise, EventCause, ProgramPeriod, ProgramTotals,
    Provider, ProviderTotals, PublicNotice, Redemption, RelatedParties, SecretHash, Settlement,
    Token, Voucher, VoucherApplication,
};
use super::policy::Policy;
use super::policy::ProgramCode;
use super::text::RequestId;
use crate::domain::command::Command;

pub use enterprise::{BOUND_PROVIDERS_MAX, NOTICE_LINES_MAX, application_request_id};
pub use history::{History, HistoryError, QueuedClaim, ResidentState};
pub use invariants::InvariantViolation;

/// The most vouchers one [`Ledger::expire_due`] call closes; the rest wait for the next call.
pub const EXPIRIES_PER_CALL_MAX: usize = 10_000;

/// Every record of the ledger, and the indexes the rules need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    policy: Arc<Policy>,
    /// Whether `redemptions` holds every redemption (a replay) or only those recalled for the
    /// batch being decided (the service's ledger: see `history`).
    history_complete: bool,
    adopted_policy_fingerprint: Option<String>,
    enterprises: HashMap<CreditCode, Enterprise>,
    providers: HashMap<CreditCode, Provider>,
    tokens: BTreeMap<TokenId, Token>,
    token_by_secret: HashMap<SecretHash, TokenId>,
    vouchers: BTreeMap<VoucherId, Voucher>,
    voucher_by_request: HashMap<RequestId, VoucherId>,
    redemptions: HashMap<RedemptionId, Redemption>,
    redemption_by_invoice: HashMap<InvoiceNumber, RedemptionId>,
    cap_accounts: HashMap<CapKey, CapAccount>,
    program_totals: HashMap<ProgramPeriod, ProgramTotals>,
    provider_totals: HashMap<(ProgramPeriod, CreditCode), ProviderTotals>,
    /// Approved, unsettled redemptions by provider and program, each with its invoice date:
    /// what a statement gathers, and what it filters by without reading the claims.
    settleable: BTreeMap<(CreditCode, ProgramCode), BTreeMap<RedemptionId, NaiveDate>>,
    /// Clawbacks booked and not yet netted, by provider and program.
    receivables: BTreeMap<(CreditCode, ProgramCode), Vec<Clawback>>,
    settlements: BTreeMap<SettlementId, Settlement>,
    settlement_by_request: HashMap<RequestId, SettlementId>,
    /// (provider, enterprise) pairs that may not deal with each other.
    related_parties: BTreeMap<(CreditCode, CreditCode), RelatedParties>,
    /// Active vouchers by their last day of redemption, for expiry.
    active_by_redeem_by: BTreeSet<(NaiveDate, VoucherId)>,
    last_token_id: Option<TokenId>,
    last_voucher_id: Option<VoucherId>,
    last_redemption_id: Option<RedemptionId>,
    last_settlement_id: Option<SettlementId>,
    /// Every application, with the indexes its rules need: by request id, and the live one
    /// (pending or approved) of each (program, contract number).
    applications: BTreeMap<ApplicationId, VoucherApplication>,
    application_by_request: HashMap<RequestId, ApplicationId>,
    live_application_by_contract: HashMap<(ProgramCode, String), ApplicationId>,
    notices: BTreeMap<NoticeId, PublicNotice>,
    last_application_id: Option<ApplicationId>,
    last_notice_id: Option<NoticeId>,
}

/// The record a command was about, as it stands after the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Enterprise(Enterprise),
    Provider(Provider),
    Token(Token),
    Voucher(Voucher),
    Redemption(Redemption),
    Settlement(Settlement),
    RelatedParties(RelatedParties),
    Application(VoucherApplication),
    Notice(PublicNotice),
}

/// Each record a command can be about comes back out of its [`Outcome`] typed: the caller
/// names the record it expects, and gets the outcome back if it was another.
macro_rules! outcome_records {
    ($($variant:ident($record:ty)),* $(,)?) => {
        $(impl TryFrom<Outcome> for $record {
            type Error = Outcome;
            fn try_from(outcome: Outcome) -> Result<$record, Outcome> {
                match outcome {
                    Outcome::$variant(record) => Ok(record),
                    other => Err(other),
                }
            }
        })*
    };
}

outcome_records!(
    Enterprise(Enterprise),
    Provider(Provider),
    Token(Token),
    Voucher(Voucher),
    Redemption(Redemption),
    Settlement(Settlement),
    RelatedParties(RelatedParties),
    Application(VoucherApplication),
    Notice(PublicNotice),
);

/// What [`Ledger::execute`] did: the events to record (none for an idempotent retry), each
/// with who caused it, and the record to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    pub events: Vec<LoggedEvent>,
    pub outcome: Outcome,
}

/// Which record to answer with, resolved after the events are applied.
#[derive(Clone, Copy, Debug)]
enum Target {
    Enterprise(CreditCode),
    Provider(CreditCode),
    Token(TokenId),
    Voucher(VoucherId),
    Redemption(RedemptionId),
    Settlement(SettlementId),
    RelatedParties(CreditCode, CreditCode),
    Application(ApplicationId),
    Notice(NoticeId),
}

impl Ledger {
    pub fn new(policy: Arc<Policy>) -> Ledger {
        Ledger {
            policy,
            history_complete: true,
            adopted_policy_fingerprint: None,
            enterprises: HashMap::new(),
            providers: HashMap::new(),
            tokens: BTreeMap::new(),
            token_by_secret: HashMap::new(),
            vouchers: BTreeMap::new(),
            voucher_by_request: HashMap::new(),
            redemptions: HashMap::new(),
            redemption_by_invoice: HashMap::new(),
            cap_accounts: HashMap::new(),
            program_totals: HashMap::new(),
            provider_totals: HashMap::new(),
            settleable: BTreeMap::new(),
            receivables: BTreeMap::new(),
            settlements: BTreeMap::new(),
            settlement_by_request: HashMap::new(),
            related_parties: BTreeMap::new(),
            active_by_redeem_by: BTreeSet::new(),
            last_token_id: None,
            last_voucher_id: None,
            last_redemption_id: None,
            last_settlement_id: None,
            applications: BTreeMap::new(),
            application_by_request: HashMap::new(),
            live_application_by_contract: HashMap::new(),
            notices: BTreeMap::new(),
            last_application_id: None,
            last_notice_id: None,
        }
    }

    /// Rebuilds the state from a history, in order.
    pub fn replay<'a>(
        policy: Arc<Policy>,
        events: impl IntoIterator<Item = &'a LoggedEvent>,
    ) -> Ledger {
        let mut ledger = Ledger::new(policy);
        for logged in events {
            ledger.apply_logged(logged);
        }
        ledger
    }

    /// Decides and applies one command on a ledger whose history is complete, as the ledger
    /// itself (the unscoped bureau). On error nothing changed.
    pub fn execute(&mut self, command: &Command, clock: Clock) -> Result<Executed, LedgerError> {
        self.execute_as(command, &Caller::ledger(), clock)
    }

    /// Decides and applies one command from `caller` on a ledger whose history is complete.
    pub fn execute_as(
        &mut self,
        command: &Command,
        caller: &Caller,
        clock: Clock,
    ) -> Result<Executed, LedgerError> {
        assert!(
            self.history_complete,
            "a ledger without its history decides only after recalling it: use execute_recalled"
        );
        self.decide_and_apply(command, caller, clock)
    }

    /// Recalls from `history` what `command` may touch, then decides and applies it. The outer
    /// error means history could not be read and nothing was decided; the inner one is the
    /// rules' refusal, after which nothing changed either.
    pub fn execute_recalled(
        &mut self,
        command: &Command,
        caller: &Caller,
        clock: Clock,
        history: &dyn History,
    ) -> Result<Result<Executed, LedgerError>, HistoryError> {
        self.recall(command, history)?;
        Ok(self.decide_and_apply(command, caller, clock))
    }

    fn decide_and_apply(
        &mut self,
        command: &Command,
        caller: &Caller,
        clock: Clock,
    ) -> Result<Executed, LedgerError> {
        self.check_duties(command, caller)?;
        let (events, target) = self.decide(command, clock)?;
        let events: Vec<LoggedEvent> = events
            .into_iter()
            .map(|event| LoggedEvent {
                event,
                cause: caller.cause.clone(),
            })
            .collect();
        for logged in &events {
            self.apply_logged(logged);
        }
        Ok(Executed {
            events,
            outcome: self.resolve(target),
        })
    }

    /// Applies an event and notes on the records it touched who caused it.
    pub fn apply_logged(&mut self, logged: &LoggedEvent) {
        self.apply(&logged.event);
        self.note_cause(&logged.event, &logged.cause);
    }

    /// Closes every active voucher whose redemption deadline is before today (at most
    /// [`EXPIRIES_PER_CALL_MAX`]), releasing its remainder. Returns the events applied.
    pub fn expire_due(&mut self, clock: Clock) -> Vec<LoggedEvent> {
        let due: Vec<VoucherId> = self
            .active_by_redeem_by
            .iter()
            .take_while(|(redeem_by, _)| *redeem_by < clock.today)
            .take(EXPIRIES_PER_CALL_MAX)
            .map(|(_, voucher_id)| *voucher_id)
            .collect();
        let events: Vec<LoggedEvent> = due
            .into_iter()
            .map(|voucher_id| LoggedEvent {
                event: Event::VoucherExpired {
                    voucher_id,
                    at: clock.now,
                },
                cause: EventCause::Ledger,
            })
            .collect();
        for logged in &events {
            self.apply_logged(logged);
        }
        events
    }

    /// The event that records the policy in force, when it is not the last one recorded.
    pub fn adopt_policy(&mut self, clock: Clock) -> Option<LoggedEvent> {
        if self.adopted_policy_fingerprint.as_deref() == Some(self.policy.fingerprint.as_str()) {
            return None;
        }
        let event = Event::PolicyAdopted {
            name: self.policy.name.clone(),
            document: self.policy.document.clone(),
            fingerprint: self.policy.fingerprint.clone(),
            at: clock.now,
        };
        let logged = LoggedEvent {
            event,
            cause: EventCause::Ledger,
        };
        self.apply_logged(&logged);
        Some(logged)
    }

    fn resolve(&self, target: Target) -> Outcome {
        let missing = "a decided target exists after its events are applied";
        match target {
            Target::Enterprise(code) => {
                Outcome::Enterprise(self.enterprises.get(&code).expect(missing).clone())
            }
            Target::Provider(code) => {
                Outcome::Provider(self.providers.get(&code).expect(missing).clone())
            }
            Target::Token(id) => Outcome::Token(self.tokens.get(&id).expect(missing).clone()),
            Target::Voucher(id) => Outcome::Voucher(self.vouchers.get(&id).expect(missing).clone()),
            Target::Redemption(id) => {
                Outcome::Redemption(self.redemptions.get(&id).expect(missing).clone())
            }
            Target::Settlement(id) => {
                Outcome::Settlement(self.settlements.get(&id).expect(missing).clone())
            }
            Target::RelatedParties(provider, enterprise) => Outcome::RelatedParties(
                self.related_parties
                    .get(&(provider, enterprise))
                    .expect(missing)
                    .clone(),
            ),
            Target::Application(id) => {
                Outcome::Application(self.applications.get(&id).expect(missing).clone())
            }
            Target::Notice(id) => Outcome::Notice(self.notices.get(&id).expect(missing).clone()),
        }
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn enterprise(&self, code: &CreditCode) -> Option<&Enterprise> {
        self.enterprises.get(code)
    }

    pub fn provider(&self, code: &CreditCode) -> Option<&Provider> {
        self.providers.get(code)
    }

    pub fn token(&self, token_id: &TokenId) -> Option<&Token> {
        self.tokens.get(token_id)
    }

    pub fn token_by_secret(&self, secret: &SecretHash) -> Option<&Token> {
        self.token_by_secret
            .get(secret)
            .and_then(|token_id| self.tokens.get(token_id))
    }

    pub fn has_tokens(&self) -> bool {
        !self.tokens.is_empty()
    }

    pub fn voucher(&self, voucher_id: &VoucherId) -> Option<&Voucher> {
        self.vouchers.get(voucher_id)
    }

    pub fn redemption(&self, redemption_id: &RedemptionId) -> Option<&Redemption> {
        self.redemptions.get(redemption_id)
    }

    /// The newest claim of an invoice number this ledger holds.
    pub fn redemption_of_invoice(&self, number: &InvoiceNumber) -> Option<RedemptionId> {
        self.redemption_by_invoice.get(number).copied()
    }

    pub fn cap_account(&self, key: &CapKey) -> Option<&CapAccount> {
        self.cap_accounts.get(key)
    }

    pub fn program_totals(&self, key: &ProgramPeriod) -> Option<&ProgramTotals> {
        self.program_totals.get(key)
    }

    pub fn provider_totals(
        &self,
        key: &ProgramPeriod,
        provider: &CreditCode,
    ) -> Option<&ProviderTotals> {
        self.provider_totals.get(&(*key, *provider))
    }

    pub fn all_program_totals(&self) -> impl Iterator<Item = (&ProgramPeriod, &ProgramTotals)> {
        self.program_totals.iter()
    }

    pub fn all_provider_totals(
        &self,
    ) -> impl Iterator<Item = (&(ProgramPeriod, CreditCode), &ProviderTotals)> {
        self.provider_totals.iter()
    }

    pub fn settlement(&self, settlement_id: &SettlementId) -> Option<&Settlement> {
        self.settlements.get(settlement_id)
    }

    pub fn settlements(&self) -> impl Iterator<Item = &Settlement> {
        self.settlements.values()
    }

    /// The policy last recorded in the log, by its fingerprint.
    pub fn adopted_policy_fingerprint(&self) -> Option<&str> {
        self.adopted_policy_fingerprint.as_deref()
    }

    /// The invoice date of an approved claim waiting to be settled; `None` if it is not waiting.
    pub fn settleable_invoice_date(
        &self,
        provider: &CreditCode,
        program: ProgramCode,
        redemption_id: &RedemptionId,
    ) -> Option<NaiveDate> {
        self.settleable
            .get(&(*provider, program))
            .and_then(|waiting| waiting.get(redemption_id))
            .copied()
    }

    /// Every approved claim waiting to be settled, by provider and program.
    pub fn all_settleable(
        &self,
    ) -> impl Iterator<Item = (CreditCode, ProgramCode, RedemptionId, NaiveDate)> + '_ {
        self.settleable
            .iter()
            .flat_map(|((provider, program), waiting)| {
                waiting
                    .iter()
                    .map(|(redemption_id, date)| (*provider, *program, *redemption_id, *date))
            })
    }

    /// Clawbacks booked against `provider` under `program` and not yet netted.
    pub fn receivables(&self, provider: &CreditCode, program: ProgramCode) -> &[Clawback] {
        self.receivables
            .get(&(*provider, program))
            .map_or(&[], Vec::as_slice)
    }

    pub fn all_receivables(
        &self,
    ) -> impl Iterator<Item = (&(CreditCode, ProgramCode), &Vec<Clawback>)> {
        self.receivables.iter()
    }

    pub fn related_parties(
        &self,
        provider: &CreditCode,
        enterprise: &CreditCode,
    ) -> Option<&RelatedParties> {
        self.related_parties.get(&(*provider, *enterprise))
    }

    pub fn all_related_parties(&self) -> impl Iterator<Item = &RelatedParties> {
        self.related_parties.values()
    }

    pub fn enterprises(&self) -> impl Iterator<Item = &Enterprise> {
        self.enterprises.values()
    }

    pub fn providers(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values()
    }

    pub fn tokens(&self) -> impl Iterator<Item = &Token> {
        self.tokens.values()
    }

    pub fn vouchers(&self) -> impl Iterator<Item = &Voucher> {
        self.vouchers.values()
    }

    pub fn redemptions(&self) -> impl Iterator<Item = &Redemption> {
        self.redemptions.values()
    }

    pub fn cap_accounts(&self) -> impl Iterator<Item = &CapAccount> {
        self.cap_accounts.values()
    }

    pub fn application(&self, application_id: &ApplicationId) -> Option<&VoucherApplication> {
        self.applications.get(application_id)
    }

    pub fn applications(&self) -> impl Iterator<Item = &VoucherApplication> {
        self.applications.values()
    }

    pub fn notice(&self, notice_id: &NoticeId) -> Option<&PublicNotice> {
        self.notices.get(notice_id)
    }

    pub fn notices(&self) -> impl Iterator<Item = &PublicNotice> {
        self.notices.values()
    }
}

/// The error for a credit code that names nobody: a wrong check digit is the likelier cause
/// than a missing registration, so it says that first.
pub fn unknown_credit_code(code: &CreditCode, field: &'static str, kind: &str) -> LedgerError {
    match code.require_valid_check_digit() {
        Err(check_digit_error) => check_digit_error.in_field(field),
        Ok(()) => LedgerError::not_found(
            field,
            format!("no {kind} is registered with credit code {code}"),
        ),
    }
}

#[cfg(test)]
mod tests;

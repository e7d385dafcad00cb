//! The storage seam: what the rest of the program may ask of a store, whatever keeps it.
//!
//! [`ReadStore`] is the readers' half: records by key, bounded pages, the event log's bytes,
//! and the audit of stored records against a replay. [`EventJournal`] and [`Durability`] are
//! the writer's: append a batch atomically, then make it durable before anyone is answered.
//! The sled store implements them today; a store for PostgreSQL implements the same traits
//! without `engine/`, `api/` or `web/` changing. Everything above `store/` holds trait
//! objects and never a concrete store.

use std::sync::Arc;

use super::verify::Problem;
use super::{
    AppendedBatch, ChainHead, CommitTiming, Page, RedemptionFilter, StoreError, VoucherFilter,
};
use crate::domain::command::Command;
use crate::domain::credit_code::CreditCode;
use crate::domain::event::{Event, LoggedEvent};
use crate::domain::ids::{ApplicationId, NoticeId, RedemptionId, SettlementId, TokenId, VoucherId};
use crate::domain::ledger::{History, Ledger};
use crate::domain::model::{
    ApplicationStatus, CapAccount, CapKey, Enterprise, ProgramPeriod, ProgramTotals, Provider,
    ProviderTotals, PublicNotice, Redemption, Settlement, Token, Voucher, VoucherApplication,
};
use crate::domain::policy::ProgramCode;

/// A store as its readers see it. Reads never wait for the writer.
pub trait ReadStore: Send + Sync + 'static {
    fn enterprise(&self, code: &CreditCode) -> Result<Option<Enterprise>, StoreError>;
    fn provider(&self, code: &CreditCode) -> Result<Option<Provider>, StoreError>;
    /// The token whose secret hashes to this (lower-case hex SHA-256).
    fn token_by_secret(&self, secret_sha256_hex: &str) -> Result<Option<Token>, StoreError>;
    fn token(&self, token_id: &TokenId) -> Result<Option<Token>, StoreError>;
    fn voucher(&self, voucher_id: &VoucherId) -> Result<Option<Voucher>, StoreError>;
    fn redemption(&self, redemption_id: &RedemptionId) -> Result<Option<Redemption>, StoreError>;
    fn cap_account(&self, key: &CapKey) -> Result<Option<CapAccount>, StoreError>;
    fn settlement(&self, settlement_id: &SettlementId) -> Result<Option<Settlement>, StoreError>;
    fn program_totals(
        &self,
        program_period: &ProgramPeriod,
    ) -> Result<Option<ProgramTotals>, StoreError>;
    fn application(
        &self,
        application_id: &ApplicationId,
    ) -> Result<Option<VoucherApplication>, StoreError>;
    /// Applications in id order after `after`, an enterprise's or everyone's, in a status or
    /// all, examining at most `scan_max` entries.
    fn list_applications(
        &self,
        enterprise: Option<CreditCode>,
        status: Option<ApplicationStatus>,
        after: Option<ApplicationId>,
        limit: usize,
        scan_max: usize,
    ) -> Result<Page<VoucherApplication>, StoreError>;
    fn notice(&self, notice_id: &NoticeId) -> Result<Option<PublicNotice>, StoreError>;
    /// Notices in id order after `after`.
    fn list_notices(
        &self,
        after: Option<NoticeId>,
        limit: usize,
    ) -> Result<Page<PublicNotice>, StoreError>;

    /// Vouchers in id order after `after`, examining at most `scan_max` entries.
    fn list_vouchers(
        &self,
        filter: VoucherFilter,
        after: Option<VoucherId>,
        limit: usize,
        scan_max: usize,
    ) -> Result<Page<Voucher>, StoreError>;
    /// Redemptions in id order after `after`, examining at most `scan_max` entries.
    fn list_redemptions(
        &self,
        filter: RedemptionFilter,
        after: Option<RedemptionId>,
        limit: usize,
        scan_max: usize,
    ) -> Result<Page<Redemption>, StoreError>;
    /// One program-period's cap accounts in enterprise order after `after`.
    fn cap_accounts_of(
        &self,
        program_period: &ProgramPeriod,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<CapAccount>, StoreError>;
    /// Statements in id order after `after`, a provider's or everyone's, a program's or all.
    fn list_settlements(
        &self,
        provider: Option<CreditCode>,
        program: Option<ProgramCode>,
        after: Option<SettlementId>,
        limit: usize,
        scan_max: usize,
    ) -> Result<Page<Settlement>, StoreError>;
    /// Enterprises in credit code order after `after` that `keep` admits.
    fn list_enterprises(
        &self,
        after: Option<CreditCode>,
        limit: usize,
        scan_max: usize,
        keep: &dyn Fn(&Enterprise) -> bool,
    ) -> Result<Page<Enterprise>, StoreError>;
    fn list_providers(
        &self,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<Provider>, StoreError>;
    /// Up to `limit` providers' totals in one program-period, and whether there were more.
    fn provider_totals_of(
        &self,
        program_period: &ProgramPeriod,
        limit: usize,
    ) -> Result<(Vec<(CreditCode, ProviderTotals)>, bool), StoreError>;

    /// The last event written and its hash.
    fn stored_head(&self) -> Result<ChainHead, StoreError>;
    /// The stored bytes of events `from..=through` in order, each as first written; `visit`
    /// returns false to stop early.
    fn visit_events(
        &self,
        from: u64,
        through: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> Result<(), StoreError>;
    /// Whether any token was ever created: a store without one needs a bootstrap token.
    fn has_tokens(&self) -> Result<bool, StoreError>;
    /// Bytes the store takes on disk (0 where that means nothing).
    fn size_on_disk_bytes(&self) -> Result<u64, StoreError>;
    /// The layout of the stored records (see `upgrade`).
    fn records_format(&self) -> Result<u32, StoreError>;
    /// An audit that follows a replay event by event and then compares every stored record
    /// and index with the replayed ledger, both ways (used by `verify`).
    fn record_audit(&self) -> Box<dyn RecordAudit + Send>;
}

/// Compares what a store holds with a replay (see [`ReadStore::record_audit`]).
pub trait RecordAudit {
    /// `event` (number `sequence`) was just applied to `ledger`.
    fn note(&mut self, sequence: u64, event: &Event, ledger: &Ledger);
    /// Every stored record against `ledger` after the last event: the records checked, and
    /// what differs, each traced to the last event that wrote it.
    fn finish(self: Box<Self>, ledger: &Ledger) -> Result<(u64, Vec<Problem>), StoreError>;
    /// A first look at the records while writes go on, against `ledger` (the replay so far), so
    /// that [`RecordAudit::finish`] needs to look again only at what differed and at what the
    /// events noted since wrote. A store without it compares everything in `finish`.
    fn compare_while_writing(&mut self, _ledger: &Ledger) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How the rest of the program holds a store.
pub type SharedReadStore = Arc<dyn ReadStore>;

/// The writer's half of a store: appends batches of events (already applied to the ledger)
/// with every record they changed, atomically, and hands out the means to make them durable.
/// Exactly one exists per open store.
pub trait EventJournal: Send {
    /// The head after the last appended batch (ahead of the disk while one is in flight).
    fn head(&self) -> &ChainHead;
    /// Encodes, chains and stages `events` and every record they touched in `ledger`, visible
    /// to readers but not yet durable: hand the result to [`Durability::write`], in the order
    /// appended, before telling anyone.
    fn append(
        &mut self,
        events: &[LoggedEvent],
        ledger: &Ledger,
    ) -> Result<AppendedBatch, StoreError>;
    /// What makes appended batches durable; may be used from another thread.
    fn durability(&self) -> Arc<dyn Durability>;
    /// The redemptions the ledger no longer holds, as of the last appended batch (what
    /// `Ledger::recall` reads before each command).
    fn history(&self) -> &dyn History;

    /// Reads at once what deciding `commands` will recall, for a store whose every read is a
    /// round trip to a database: a hint only, since whatever it misses is read when recalled.
    fn read_ahead(&self, _commands: &[&Command]) {}

    /// Appends and makes durable; returns once it is on disk.
    fn commit(
        &mut self,
        events: &[LoggedEvent],
        ledger: &Ledger,
    ) -> Result<CommitTiming, StoreError> {
        let appended = self.append(events, ledger)?;
        self.durability().write(appended)
    }
}

/// Makes appended batches durable, in the order they were appended.
pub trait Durability: Send + Sync {
    /// Makes `appended` (and everything appended before it) durable; returns once it is.
    fn write(&self, appended: AppendedBatch) -> Result<CommitTiming, StoreError>;
    /// Lets the store fold what is durable up to `durable_sequence` into its checkpointed
    /// state (a no-op where every write already is).
    fn checkpoint(&self, durable_sequence: u64) -> Result<(), StoreError>;
}

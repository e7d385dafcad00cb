//! Which stored records and index entries each event writes, and what the whole store should
//! hold for a given ledger. The commit and `verify` both use this, so what is written and what
//! is checked cannot drift apart.

use crate::domain::credit_code::CreditCode;
use crate::domain::event::Event;
use crate::domain::ids::{ApplicationId, NoticeId, RedemptionId, SettlementId, TokenId, VoucherId};
use crate::domain::ledger::Ledger;
use crate::domain::model::{CapKey, ProgramPeriod, Redemption, Settlement, Token, Voucher};
use crate::domain::policy::ProgramCode;

use super::{encode, keys};

/// A record the store keeps, by what identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKey {
    Enterprise(CreditCode),
    Provider(CreditCode),
    Token(TokenId),
    Voucher(VoucherId),
    Redemption(RedemptionId),
    CapAccount(CapKey),
    ProgramTotals(ProgramPeriod),
    ProviderTotals(ProgramPeriod, CreditCode),
    Settlement(SettlementId),
    /// A pending clawback: gone from the ledger once netted, and then removed from the store.
    Clawback(CreditCode, ProgramCode, RedemptionId),
    RelatedParties(CreditCode, CreditCode),
    /// An approved claim waiting for a statement: gone once settled, rejected or reversed.
    Settleable(CreditCode, ProgramCode, RedemptionId),
    /// A provider's pending clawbacks under a program, in booking order: gone once all netted.
    ClawbackQueue(CreditCode, ProgramCode),
    /// The fingerprint of the policy last recorded.
    AdoptedPolicy,
    Application(ApplicationId),
    Notice(NoticeId),
}

impl RecordKey {
    pub fn key(&self) -> Vec<u8> {
        match self {
            RecordKey::Enterprise(code) => keys::enterprise(code),
            RecordKey::Provider(code) => keys::provider(code),
            RecordKey::Token(token_id) => keys::token(token_id),
            RecordKey::Voucher(voucher_id) => keys::voucher(voucher_id),
            RecordKey::Redemption(redemption_id) => keys::redemption(redemption_id),
            RecordKey::CapAccount(cap_key) => keys::cap_account(cap_key),
            RecordKey::ProgramTotals(program_period) => keys::program_totals(program_period),
            RecordKey::ProviderTotals(program_period, provider) => {
                keys::provider_totals(program_period, provider)
            }
            RecordKey::Settlement(settlement_id) => keys::settlement(settlement_id),
            RecordKey::Clawback(provider, program, redemption_id) => {
                keys::clawback(provider, *program, redemption_id)
            }
            RecordKey::RelatedParties(provider, enterprise) => {
                keys::related_parties(provider, enterprise)
            }
            RecordKey::Settleable(provider, program, redemption_id) => {
                keys::settlement_queue(provider, *program, redemption_id)
            }
            RecordKey::ClawbackQueue(provider, program) => keys::clawback_queue(provider, *program),
            RecordKey::AdoptedPolicy => keys::ADOPTED_POLICY.to_vec(),
            RecordKey::Application(application_id) => keys::application(application_id),
            RecordKey::Notice(notice_id) => keys::notice(notice_id),
        }
    }

    /// The record as the ledger has it, encoded for the store; `None` when the ledger no longer
    /// has it (a netted clawback), and the stored copy is to be removed.
    pub fn encode_from(&self, ledger: &Ledger) -> Option<Vec<u8>> {
        match self {
            RecordKey::Enterprise(code) => ledger.enterprise(code).map(encode),
            RecordKey::Provider(code) => ledger.provider(code).map(encode),
            RecordKey::Token(token_id) => ledger.token(token_id).map(encode),
            RecordKey::Voucher(voucher_id) => ledger.voucher(voucher_id).map(encode),
            RecordKey::Redemption(redemption_id) => ledger.redemption(redemption_id).map(encode),
            RecordKey::CapAccount(cap_key) => ledger.cap_account(cap_key).map(encode),
            RecordKey::ProgramTotals(program_period) => {
                ledger.program_totals(program_period).map(encode)
            }
            RecordKey::ProviderTotals(program_period, provider) => {
                ledger.provider_totals(program_period, provider).map(encode)
            }
            RecordKey::Settlement(settlement_id) => ledger.settlement(settlement_id).map(encode),
            RecordKey::Clawback(provider, program, redemption_id) => ledger
                .receivables(provider, *program)
                .iter()
                .find(|clawback| clawback.redemption_id == *redemption_id)
                .map(encode),
            RecordKey::RelatedParties(provider, enterprise) => {
                ledger.related_parties(provider, enterprise).map(encode)
            }
            RecordKey::Settleable(provider, program, redemption_id) => ledger
                .settleable_invoice_date(provider, *program, redemption_id)
                .map(|date| date.format("%Y-%m-%d").to_string().into_bytes()),
            RecordKey::ClawbackQueue(provider, program) => {
                let queue = ledger.receivables(provider, *program);
                (!queue.is_empty()).then(|| encode(&queue))
            }
            RecordKey::AdoptedPolicy => ledger
                .adopted_policy_fingerprint()
                .map(|fingerprint| fingerprint.as_bytes().to_vec()),
            RecordKey::Application(application_id) => {
                ledger.application(application_id).map(encode)
            }
            RecordKey::Notice(notice_id) => ledger.notice(notice_id).map(encode),
        }
    }
}

/// What one event writes: records (rewritten whole from the ledger) and index entries.
#[derive(Default)]
pub struct Writes {
    pub records: Vec<RecordKey>,
    pub indexes: Vec<(Vec<u8>, Vec<u8>)>,
    /// Index entries and what each must hold before the event (`None`: nothing), as the
    /// ledger that decided it read them: a store refuses the batch otherwise.
    pub expected: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// The records and index entries `event` changes, given the ledger after it was applied.
pub fn writes_of(event: &Event, ledger: &Ledger) -> Writes {
    let mut writes = Writes::default();
    match event {
        Event::PolicyAdopted { .. } => writes.records.push(RecordKey::AdoptedPolicy),
        Event::EnterpriseRegistered { enterprise } => writes
            .records
            .push(RecordKey::Enterprise(enterprise.credit_code)),
        Event::ProviderRegistered { provider } => writes
            .records
            .push(RecordKey::Provider(provider.credit_code)),
        Event::TokenCreated { token } => token_created_writes(&mut writes, token),
        Event::TokenRevoked { token_id, .. } => writes.records.push(RecordKey::Token(*token_id)),
        Event::ProviderSuspended {
            provider_credit_code,
            ..
        }
        | Event::ProviderReinstated {
            provider_credit_code,
            ..
        }
        | Event::ProviderCertificatePinned {
            provider_credit_code,
            ..
        }
        | Event::ProviderCertificateRevoked {
            provider_credit_code,
            ..
        } => writes
            .records
            .push(RecordKey::Provider(*provider_credit_code)),
        Event::VoucherIssued { voucher } => issued_writes(&mut writes, voucher, ledger),
        Event::VoucherRevoked { voucher_id, .. } | Event::VoucherExpired { voucher_id, .. } => {
            voucher_and_account(&mut writes, *voucher_id, ledger);
        }
        Event::RedemptionAccepted { redemption } => {
            accepted_writes(&mut writes, redemption, ledger)
        }
        Event::RedemptionReversed { redemption_id, .. } => {
            reversed_writes(&mut writes, *redemption_id, ledger)
        }
        Event::RedemptionApproved { redemption_id, .. } => {
            approved_writes(&mut writes, *redemption_id, ledger)
        }
        Event::RedemptionRejected { redemption_id, .. }
        | Event::RedemptionDisputed { redemption_id, .. }
        | Event::RedemptionReturned { redemption_id, .. } => {
            rejected_writes(&mut writes, *redemption_id, ledger)
        }
        Event::RedemptionConfirmed { redemption_id, .. } => {
            writes.records.push(RecordKey::Redemption(*redemption_id))
        }
        Event::VoucherApplied { application } => {
            writes.indexes.push((
                keys::application_by_enterprise(
                    &application.enterprise_credit_code,
                    &application.application_id,
                ),
                Vec::new(),
            ));
            writes
                .records
                .push(RecordKey::Application(application.application_id));
        }
        Event::ApplicationApproved { application_id, .. }
        | Event::ApplicationRejected { application_id, .. } => {
            writes.records.push(RecordKey::Application(*application_id))
        }
        Event::VoucherProvidersChanged { voucher_id, .. } => {
            writes.records.push(RecordKey::Voucher(*voucher_id))
        }
        Event::NoticePublished { notice } => {
            writes.records.push(RecordKey::Notice(notice.notice_id))
        }
        Event::SettlementCreated { settlement } => {
            settlement_writes(&mut writes, settlement, ledger)
        }
        Event::SettlementPaid { settlement_id, .. } => {
            writes.records.push(RecordKey::Settlement(*settlement_id))
        }
        Event::RelatedPartiesRecorded { parties } => writes.records.push(
            RecordKey::RelatedParties(parties.provider_credit_code, parties.enterprise_credit_code),
        ),
    }
    writes
}

/// A new token and the index entry that finds it by its secret's hash.
fn token_created_writes(writes: &mut Writes, token: &Token) {
    writes.indexes.push((
        keys::token_secret(&token.secret_sha256.0),
        token.token_id.to_string().into_bytes(),
    ));
    writes.records.push(RecordKey::Token(token.token_id));
}

/// A new voucher, its index entry by enterprise, its cap account and its program's totals.
fn issued_writes(writes: &mut Writes, voucher: &Voucher, ledger: &Ledger) {
    writes.indexes.push((
        keys::voucher_by_enterprise(&voucher.enterprise_credit_code, &voucher.voucher_id),
        Vec::new(),
    ));
    voucher_and_account(writes, voucher.voucher_id, ledger);
}

/// A new claim, its three index entries (by enterprise, by provider, by invoice number) and
/// what it counts towards.
fn accepted_writes(writes: &mut Writes, redemption: &Redemption, ledger: &Ledger) {
    let id = redemption.redemption_id;
    writes.indexes.push((
        keys::redemption_by_enterprise(&redemption.enterprise_credit_code, &id),
        Vec::new(),
    ));
    writes.indexes.push((
        keys::redemption_by_provider(&redemption.provider_credit_code, &id),
        Vec::new(),
    ));
    // Its invoice was unclaimed, or indexed to the returned claim it corrects (the ledger's
    // own rule, `apply`): the store refuses a second claim of a number the writer misread.
    let (invoice_key, claim) = invoice_index(redemption);
    let corrected = redemption.corrects.map(|id| id.to_string().into_bytes());
    writes.expected.push((invoice_key.clone(), corrected));
    writes.indexes.push((invoice_key, claim));
    writes.records.push(RecordKey::Redemption(id));
    redemption_totals(
        writes,
        redemption.voucher_id,
        redemption.provider_credit_code,
        ledger,
    );
}

/// A reversed claim, what it counted towards, its place in the queue and, when it was already
/// settled, the clawback it books.
fn reversed_writes(writes: &mut Writes, redemption_id: RedemptionId, ledger: &Ledger) {
    writes.records.push(RecordKey::Redemption(redemption_id));
    let redemption = ledger
        .redemption(&redemption_id)
        .expect("a reversed redemption exists");
    redemption_totals(
        writes,
        redemption.voucher_id,
        redemption.provider_credit_code,
        ledger,
    );
    queue_entry(
        writes,
        redemption.provider_credit_code,
        redemption.program,
        redemption_id,
    );
    if redemption.settlement_id.is_some() {
        writes.records.push(RecordKey::Clawback(
            redemption.provider_credit_code,
            redemption.program,
            redemption_id,
        ));
        writes.records.push(RecordKey::ClawbackQueue(
            redemption.provider_credit_code,
            redemption.program,
        ));
    }
}

/// An approved claim and its new place in the settlement queue.
fn approved_writes(writes: &mut Writes, redemption_id: RedemptionId, ledger: &Ledger) {
    writes.records.push(RecordKey::Redemption(redemption_id));
    let redemption = ledger
        .redemption(&redemption_id)
        .expect("an approved redemption exists");
    queue_entry(
        writes,
        redemption.provider_credit_code,
        redemption.program,
        redemption_id,
    );
}

/// A rejected claim, its place in the queue, and what it no longer counts towards.
fn rejected_writes(writes: &mut Writes, redemption_id: RedemptionId, ledger: &Ledger) {
    writes.records.push(RecordKey::Redemption(redemption_id));
    let redemption = ledger
        .redemption(&redemption_id)
        .expect("a rejected redemption exists");
    queue_entry(
        writes,
        redemption.provider_credit_code,
        redemption.program,
        redemption_id,
    );
    redemption_totals(
        writes,
        redemption.voucher_id,
        redemption.provider_credit_code,
        ledger,
    );
}

/// A voucher, its cap account and its program's totals.
fn voucher_and_account(writes: &mut Writes, voucher_id: VoucherId, ledger: &Ledger) {
    let voucher = ledger
        .voucher(&voucher_id)
        .expect("a touched voucher exists");
    writes.records.push(RecordKey::Voucher(voucher_id));
    writes
        .records
        .push(RecordKey::CapAccount(voucher.cap_key()));
    writes
        .records
        .push(RecordKey::ProgramTotals(voucher.program_period()));
}

/// What a redemption or its reversal changes beyond itself: the voucher, the account, the
/// program's totals and the provider's.
fn redemption_totals(
    writes: &mut Writes,
    voucher_id: VoucherId,
    provider: CreditCode,
    ledger: &Ledger,
) {
    voucher_and_account(writes, voucher_id, ledger);
    let voucher = ledger
        .voucher(&voucher_id)
        .expect("a redeemed voucher exists");
    writes.records.push(RecordKey::ProviderTotals(
        voucher.program_period(),
        provider,
    ));
}

/// A statement, the claims it settled, the clawbacks it netted (removed), and the totals of
/// every period they belong to.
fn settlement_writes(writes: &mut Writes, settlement: &Settlement, ledger: &Ledger) {
    let provider = settlement.provider_credit_code;
    writes
        .records
        .push(RecordKey::Settlement(settlement.settlement_id));
    writes.indexes.push((
        keys::settlement_by_provider(&provider, &settlement.settlement_id),
        Vec::new(),
    ));
    let clawed = settlement
        .clawbacks
        .iter()
        .map(|clawback| clawback.redemption_id);
    for redemption_id in settlement.redemption_ids.iter().copied().chain(clawed) {
        let redemption = ledger
            .redemption(&redemption_id)
            .expect("a settled redemption exists");
        let voucher = ledger
            .voucher(&redemption.voucher_id)
            .expect("a redeemed voucher exists");
        writes.records.push(RecordKey::Redemption(redemption_id));
        queue_entry(writes, provider, settlement.program, redemption_id);
        writes
            .records
            .push(RecordKey::ProgramTotals(voucher.program_period()));
        writes.records.push(RecordKey::ProviderTotals(
            voucher.program_period(),
            provider,
        ));
    }
    for clawback in &settlement.clawbacks {
        writes.records.push(RecordKey::Clawback(
            provider,
            settlement.program,
            clawback.redemption_id,
        ));
    }
    writes
        .records
        .push(RecordKey::ClawbackQueue(provider, settlement.program));
}

/// A claim's place in the settlement queue, written or (when it left the queue) removed.
fn queue_entry(
    writes: &mut Writes,
    provider: CreditCode,
    program: ProgramCode,
    redemption_id: RedemptionId,
) {
    writes
        .records
        .push(RecordKey::Settleable(provider, program, redemption_id));
}

/// The invoice index entry of a redemption: its number to its id.
fn invoice_index(redemption: &Redemption) -> (Vec<u8>, Vec<u8>) {
    (
        keys::invoice(redemption.invoice.number.as_str()),
        redemption.redemption_id.to_string().into_bytes(),
    )
}

/// Every record the store should hold for `ledger`.
pub fn expected_records(ledger: &Ledger) -> Vec<RecordKey> {
    let mut records = Vec::new();
    records.extend(
        ledger
            .enterprises()
            .map(|e| RecordKey::Enterprise(e.credit_code)),
    );
    records.extend(
        ledger
            .providers()
            .map(|p| RecordKey::Provider(p.credit_code)),
    );
    records.extend(ledger.tokens().map(|t| RecordKey::Token(t.token_id)));
    records.extend(ledger.vouchers().map(|v| RecordKey::Voucher(v.voucher_id)));
    records.extend(
        ledger
            .redemptions()
            .map(|r| RecordKey::Redemption(r.redemption_id)),
    );
    records.extend(ledger.cap_accounts().map(|a| RecordKey::CapAccount(a.key)));
    records.extend(
        ledger
            .all_program_totals()
            .map(|(key, _)| RecordKey::ProgramTotals(*key)),
    );
    records.extend(
        ledger
            .all_provider_totals()
            .map(|((key, provider), _)| RecordKey::ProviderTotals(*key, *provider)),
    );
    records.extend(
        ledger
            .settlements()
            .map(|settlement| RecordKey::Settlement(settlement.settlement_id)),
    );
    for ((provider, program), clawbacks) in ledger.all_receivables() {
        records.extend(
            clawbacks
                .iter()
                .map(|clawback| RecordKey::Clawback(*provider, *program, clawback.redemption_id)),
        );
    }
    records.extend(ledger.all_related_parties().map(|parties| {
        RecordKey::RelatedParties(parties.provider_credit_code, parties.enterprise_credit_code)
    }));
    records.extend(
        ledger
            .all_settleable()
            .map(|(provider, program, id, _)| RecordKey::Settleable(provider, program, id)),
    );
    records.extend(
        ledger
            .all_receivables()
            .map(|((provider, program), _)| RecordKey::ClawbackQueue(*provider, *program)),
    );
    if ledger.adopted_policy_fingerprint().is_some() {
        records.push(RecordKey::AdoptedPolicy);
    }
    records.extend(
        ledger
            .applications()
            .map(|application| RecordKey::Application(application.application_id)),
    );
    records.extend(
        ledger
            .notices()
            .map(|notice| RecordKey::Notice(notice.notice_id)),
    );
    records
}

/// Every index entry the store should hold for `ledger`.
pub fn expected_indexes(ledger: &Ledger) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut indexes = Vec::new();
    for token in ledger.tokens() {
        indexes.push((
            keys::token_secret(&token.secret_sha256.0),
            token.token_id.to_string().into_bytes(),
        ));
    }
    for voucher in ledger.vouchers() {
        indexes.push((
            keys::voucher_by_enterprise(&voucher.enterprise_credit_code, &voucher.voucher_id),
            Vec::new(),
        ));
    }
    for redemption in ledger.redemptions() {
        let id = redemption.redemption_id;
        indexes.push((
            keys::redemption_by_enterprise(&redemption.enterprise_credit_code, &id),
            Vec::new(),
        ));
        indexes.push((
            keys::redemption_by_provider(&redemption.provider_credit_code, &id),
            Vec::new(),
        ));
        // A returned claim's invoice is indexed to the claim that corrected it.
        if ledger.redemption_of_invoice(&redemption.invoice.number) == Some(id) {
            indexes.push(invoice_index(redemption));
        }
    }
    for application in ledger.applications() {
        indexes.push((
            keys::application_by_enterprise(
                &application.enterprise_credit_code,
                &application.application_id,
            ),
            Vec::new(),
        ));
    }
    for settlement in ledger.settlements() {
        indexes.push((
            keys::settlement_by_provider(
                &settlement.provider_credit_code,
                &settlement.settlement_id,
            ),
            Vec::new(),
        ));
    }
    indexes
}

/// The prefixes under which records and indexes live (everything but events and the head).
pub const STATE_PREFIXES: &[&[u8]] = &[
    keys::ENTERPRISES,
    keys::PROVIDERS,
    keys::TOKENS,
    keys::TOKEN_SECRETS,
    keys::VOUCHERS,
    keys::VOUCHERS_BY_ENTERPRISE,
    keys::REDEMPTIONS,
    keys::REDEMPTIONS_BY_ENTERPRISE,
    keys::REDEMPTIONS_BY_PROVIDER,
    keys::CAP_ACCOUNTS,
    keys::PROGRAM_TOTALS,
    keys::PROVIDER_TOTALS,
    keys::SETTLEMENTS,
    keys::SETTLEMENTS_BY_PROVIDER,
    keys::CLAWBACKS,
    keys::RELATED_PARTIES,
    keys::INVOICES,
    keys::SETTLEMENT_QUEUE,
    keys::CLAWBACK_QUEUE,
    keys::ADOPTED_POLICY,
    keys::APPLICATIONS,
    keys::APPLICATIONS_BY_ENTERPRISE,
    keys::NOTICES,
];

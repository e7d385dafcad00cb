//! The key layout of the one sled tree. Everything lives in one tree so that one
//! `apply_batch` writes events, records and indexes atomically.
//!
//! | prefix | key                                   | value                    |
//! |--------|---------------------------------------|--------------------------|
//! | `hd/`  | (none)                                | the chain head (JSON)    |
//! | `mt/records_format` | (none)                   | the records' layout, decimal text (absent: 1) |
//! | `ev/`  | sequence number, 8 bytes big-endian   | event record (its own format, see `format`) |
//! | `en/`  | credit code                           | Enterprise (JSON)        |
//! | `pr/`  | credit code                           | Provider (JSON)          |
//! | `tk/`  | token id                              | Token (JSON)             |
//! | `th/`  | SHA-256 of the secret, hex            | token id                 |
//! | `vo/`  | voucher id                            | Voucher (JSON)           |
//! | `ve/`  | enterprise code `/` voucher id        | (empty: an index)        |
//! | `rd/`  | redemption id                         | Redemption (JSON)        |
//! | `re/`  | enterprise code `/` redemption id     | (empty: an index)        |
//! | `rp/`  | provider code `/` redemption id       | (empty: an index)        |
//! | `ca/`  | program `/` period `/` enterprise     | CapAccount (JSON)        |
//! | `pt/`  | program `/` period                    | ProgramTotals (JSON)     |
//! | `pv/`  | program `/` period `/` provider       | ProviderTotals (JSON)    |
//! | `st/`  | settlement id                         | Settlement (JSON)        |
//! | `sp/`  | provider `/` settlement id            | (empty: an index)        |
//! | `cb/`  | provider `/` program `/` redemption id| Clawback pending (JSON)  |
//! | `rl/`  | provider `/` enterprise               | RelatedParties (JSON)    |
//! | `iv/`  | invoice number                        | redemption id: the invoice index (format 3) |
//! | `sq/`  | provider `/` program `/` redemption id| invoice date: the settlement queue (format 3) |
//! | `cq/`  | provider `/` program                  | pending clawbacks in booking order (JSON, format 3) |
//! | `ap/`  | (none)                                | the fingerprint of the policy last adopted (format 3) |
//! | `va/`  | application id                        | VoucherApplication (JSON, format 5) |
//! | `vn/`  | enterprise code `/` application id    | (empty: an index, format 5) |
//! | `no/`  | notice id                             | PublicNotice (JSON, format 5) |
//!
//! The writer keeps only what is not history in memory and loads it from these records at
//! start (see `resident`); `iv/` answers "was this invoice ever redeemed" without holding every
//! invoice in memory.
//!
//! Ids and dates are fixed-width text, so key order is id order and date order.

use crate::domain::credit_code::CreditCode;
use crate::domain::ids::{ApplicationId, NoticeId, RedemptionId, SettlementId, TokenId, VoucherId};
use crate::domain::model::{CapKey, ProgramPeriod};
use crate::domain::policy::ProgramCode;

pub const HEAD: &[u8] = b"hd/";
pub const RECORDS_FORMAT: &[u8] = b"mt/records_format";
pub const EVENTS: &[u8] = b"ev/";
pub const ENTERPRISES: &[u8] = b"en/";
pub const PROVIDERS: &[u8] = b"pr/";
pub const TOKENS: &[u8] = b"tk/";
pub const TOKEN_SECRETS: &[u8] = b"th/";
pub const VOUCHERS: &[u8] = b"vo/";
pub const VOUCHERS_BY_ENTERPRISE: &[u8] = b"ve/";
pub const REDEMPTIONS: &[u8] = b"rd/";
pub const REDEMPTIONS_BY_ENTERPRISE: &[u8] = b"re/";
pub const REDEMPTIONS_BY_PROVIDER: &[u8] = b"rp/";
pub const CAP_ACCOUNTS: &[u8] = b"ca/";
pub const PROGRAM_TOTALS: &[u8] = b"pt/";
pub const PROVIDER_TOTALS: &[u8] = b"pv/";
pub const SETTLEMENTS: &[u8] = b"st/";
pub const SETTLEMENTS_BY_PROVIDER: &[u8] = b"sp/";
pub const CLAWBACKS: &[u8] = b"cb/";
pub const RELATED_PARTIES: &[u8] = b"rl/";
pub const INVOICES: &[u8] = b"iv/";
pub const SETTLEMENT_QUEUE: &[u8] = b"sq/";
pub const CLAWBACK_QUEUE: &[u8] = b"cq/";
pub const ADOPTED_POLICY: &[u8] = b"ap/";
/// Records format 5 on: applications, by id and by enterprise; public notices.
pub const APPLICATIONS: &[u8] = b"va/";
pub const APPLICATIONS_BY_ENTERPRISE: &[u8] = b"vn/";
pub const NOTICES: &[u8] = b"no/";

fn key(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let length = prefix.len() + parts.iter().map(|part| part.len() + 1).sum::<usize>();
    let mut key = Vec::with_capacity(length);
    key.extend_from_slice(prefix);
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            key.push(b'/');
        }
        key.extend_from_slice(part);
    }
    key
}

pub fn event(sequence: u64) -> Vec<u8> {
    key(EVENTS, &[&sequence.to_be_bytes()])
}

/// The sequence number back from an event key.
pub fn event_sequence(event_key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = event_key.strip_prefix(EVENTS)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub fn enterprise(code: &CreditCode) -> Vec<u8> {
    key(ENTERPRISES, &[code.as_str().as_bytes()])
}

pub fn provider(code: &CreditCode) -> Vec<u8> {
    key(PROVIDERS, &[code.as_str().as_bytes()])
}

pub fn token(token_id: &TokenId) -> Vec<u8> {
    key(TOKENS, &[token_id.to_string().as_bytes()])
}

pub fn token_secret(secret_sha256_hex: &str) -> Vec<u8> {
    key(TOKEN_SECRETS, &[secret_sha256_hex.as_bytes()])
}

pub fn voucher(voucher_id: &VoucherId) -> Vec<u8> {
    key(VOUCHERS, &[voucher_id.to_string().as_bytes()])
}

pub fn voucher_by_enterprise(code: &CreditCode, voucher_id: &VoucherId) -> Vec<u8> {
    key(
        VOUCHERS_BY_ENTERPRISE,
        &[code.as_str().as_bytes(), voucher_id.to_string().as_bytes()],
    )
}

/// The prefix of one enterprise's entries in a `<prefix><code>/<id>` index.
pub fn index_prefix(index: &[u8], code: &CreditCode) -> Vec<u8> {
    let mut prefix = key(index, &[code.as_str().as_bytes()]);
    prefix.push(b'/');
    prefix
}

pub fn redemption(redemption_id: &RedemptionId) -> Vec<u8> {
    key(REDEMPTIONS, &[redemption_id.to_string().as_bytes()])
}

pub fn redemption_by_enterprise(code: &CreditCode, redemption_id: &RedemptionId) -> Vec<u8> {
    key(
        REDEMPTIONS_BY_ENTERPRISE,
        &[
            code.as_str().as_bytes(),
            redemption_id.to_string().as_bytes(),
        ],
    )
}

pub fn redemption_by_provider(code: &CreditCode, redemption_id: &RedemptionId) -> Vec<u8> {
    key(
        REDEMPTIONS_BY_PROVIDER,
        &[
            code.as_str().as_bytes(),
            redemption_id.to_string().as_bytes(),
        ],
    )
}

pub fn cap_account(cap_key: &CapKey) -> Vec<u8> {
    let program_period = ProgramPeriod {
        program: cap_key.program,
        period_start: cap_key.period_start,
    };
    let mut key = program_period_prefix(CAP_ACCOUNTS, &program_period);
    key.extend_from_slice(cap_key.enterprise_credit_code.as_str().as_bytes());
    key
}

/// `<prefix><program>/<period start>/`: where one program-period's entries begin.
pub fn program_period_prefix(prefix: &[u8], program_period: &ProgramPeriod) -> Vec<u8> {
    let period = program_period.period_start.format("%Y-%m-%d").to_string();
    let mut key = key(
        prefix,
        &[
            program_period.program.as_str().as_bytes(),
            period.as_bytes(),
        ],
    );
    key.push(b'/');
    key
}

pub fn program_totals(program_period: &ProgramPeriod) -> Vec<u8> {
    let mut key = program_period_prefix(PROGRAM_TOTALS, program_period);
    key.pop();
    key
}

pub fn provider_totals(program_period: &ProgramPeriod, provider: &CreditCode) -> Vec<u8> {
    let mut key = program_period_prefix(PROVIDER_TOTALS, program_period);
    key.extend_from_slice(provider.as_str().as_bytes());
    key
}

pub fn settlement(settlement_id: &SettlementId) -> Vec<u8> {
    key(SETTLEMENTS, &[settlement_id.to_string().as_bytes()])
}

pub fn settlement_by_provider(provider: &CreditCode, settlement_id: &SettlementId) -> Vec<u8> {
    key(
        SETTLEMENTS_BY_PROVIDER,
        &[
            provider.as_str().as_bytes(),
            settlement_id.to_string().as_bytes(),
        ],
    )
}

pub fn clawback(
    provider: &CreditCode,
    program: ProgramCode,
    redemption_id: &RedemptionId,
) -> Vec<u8> {
    key(
        CLAWBACKS,
        &[
            provider.as_str().as_bytes(),
            program.as_str().as_bytes(),
            redemption_id.to_string().as_bytes(),
        ],
    )
}

/// Where one provider's pending clawbacks under one program begin.
pub fn clawbacks_prefix(provider: &CreditCode, program: ProgramCode) -> Vec<u8> {
    let mut prefix = key(
        CLAWBACKS,
        &[provider.as_str().as_bytes(), program.as_str().as_bytes()],
    );
    prefix.push(b'/');
    prefix
}

pub fn related_parties(provider: &CreditCode, enterprise: &CreditCode) -> Vec<u8> {
    key(
        RELATED_PARTIES,
        &[provider.as_str().as_bytes(), enterprise.as_str().as_bytes()],
    )
}

/// The rest of the key is the invoice number's bytes as they are: looked up whole, never
/// split, so an old number of any form is its own key.
pub fn invoice(number: &str) -> Vec<u8> {
    key(INVOICES, &[number.as_bytes()])
}

pub fn settlement_queue(
    provider: &CreditCode,
    program: ProgramCode,
    redemption_id: &RedemptionId,
) -> Vec<u8> {
    key(
        SETTLEMENT_QUEUE,
        &[
            provider.as_str().as_bytes(),
            program.as_str().as_bytes(),
            redemption_id.to_string().as_bytes(),
        ],
    )
}

pub fn clawback_queue(provider: &CreditCode, program: ProgramCode) -> Vec<u8> {
    key(
        CLAWBACK_QUEUE,
        &[provider.as_str().as_bytes(), program.as_str().as_bytes()],
    )
}

pub fn application(application_id: &ApplicationId) -> Vec<u8> {
    key(APPLICATIONS, &[application_id.to_string().as_bytes()])
}

pub fn application_by_enterprise(code: &CreditCode, application_id: &ApplicationId) -> Vec<u8> {
    key(
        APPLICATIONS_BY_ENTERPRISE,
        &[
            code.as_str().as_bytes(),
            application_id.to_string().as_bytes(),
        ],
    )
}

pub fn notice(notice_id: &NoticeId) -> Vec<u8> {
    key(NOTICES, &[notice_id.to_string().as_bytes()])
}

/// The id at the end of an index key (`<prefix><code>/<id>`).
pub fn indexed_id(index_key: &[u8]) -> Option<&str> {
    let slash = index_key.iter().rposition(|byte| *byte == b'/')?;
    std::str::from_utf8(&index_key[slash + 1..]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_in_sequence_order_and_read_back() {
        assert!(event(255) < event(256));
        assert_eq!(event_sequence(&event(70_000)), Some(70_000));
        assert_eq!(event_sequence(b"ev/short"), None);
    }

    #[test]
    fn index_keys_end_in_the_id() {
        let code = CreditCode::parse("914403001922038216").expect("code");
        let index_key = redemption_by_enterprise(&code, &RedemptionId::FIRST);
        assert!(index_key.starts_with(&index_prefix(REDEMPTIONS_BY_ENTERPRISE, &code)));
        assert_eq!(indexed_id(&index_key), Some("R000000000001"));
    }
}

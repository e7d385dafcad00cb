//! Proto <-> domain. Inbound, every field is parsed once into a checked type, and a bad one
//! becomes INVALID_ARGUMENT naming it. Outbound, records become messages.

use chrono::NaiveDate;
use tonic::Status;

use super::status::invalid;
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::parse_date;
use crate::domain::input::InputError;
use crate::domain::invoice::InvoiceNumber;
use crate::domain::model::{
    Balance, Enterprise, ProgramSummary, Provider, Redemption, RedemptionStatus, Role, Timestamp,
    Voucher, VoucherStatus,
};
use crate::domain::money::{CURRENCY_CNY, Money, Total};
use crate::domain::policy::ProgramCode;
use crate::domain::text::BoundedText;
use crate::proto::google::r#type::Money as ProtoMoney;
use crate::proto::voucher::v1 as pb;

/// The page size when the caller gives none.
pub const PAGE_SIZE_DEFAULT: usize = 100;
/// The largest page a caller may ask for.
pub const PAGE_SIZE_MAX: usize = 1000;

pub fn credit_code(field: &'static str, text: &str) -> Result<CreditCode, Status> {
    CreditCode::parse(text).map_err(|error| invalid(field, error))
}

pub fn optional_credit_code(field: &'static str, text: &str) -> Result<Option<CreditCode>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    credit_code(field, text).map(Some)
}

pub fn program(field: &'static str, value: i32) -> Result<ProgramCode, Status> {
    optional_program(field, value)?.ok_or_else(|| {
        invalid(
            field,
            InputError::new(
                "REQUIRED",
                "program must be set (PROGRAM_COMPUTE, PROGRAM_LEASING…)",
            ),
        )
    })
}

/// `PROGRAM_UNSPECIFIED` means no filter.
pub fn optional_program(field: &'static str, value: i32) -> Result<Option<ProgramCode>, Status> {
    match pb::Program::try_from(value) {
        Ok(pb::Program::Unspecified) => Ok(None),
        Ok(pb::Program::Compute) => Ok(Some(ProgramCode::Compute)),
        Ok(pb::Program::Leasing) => Ok(Some(ProgramCode::Leasing)),
        Ok(pb::Program::Corpus) => Ok(Some(ProgramCode::Corpus)),
        Err(_) => Err(invalid(
            field,
            InputError::new("UNKNOWN_PROGRAM", format!("{value} is not a program")),
        )),
    }
}

pub fn role(field: &'static str, value: i32) -> Result<Role, Status> {
    match pb::Role::try_from(value) {
        Ok(pb::Role::Bureau) => Ok(Role::Bureau),
        Ok(pb::Role::Provider) => Ok(Role::Provider),
        Ok(pb::Role::Auditor) => Ok(Role::Auditor),
        Ok(pb::Role::Unspecified) | Err(_) => Err(invalid(
            field,
            InputError::new(
                "UNKNOWN_ROLE",
                "role must be ROLE_BUREAU, ROLE_PROVIDER or ROLE_AUDITOR",
            ),
        )),
    }
}

pub fn money(field: &'static str, value: Option<&ProtoMoney>) -> Result<Money, Status> {
    let value = value.ok_or_else(|| {
        invalid(
            field,
            InputError::new("REQUIRED", "an amount in CNY is required"),
        )
    })?;
    Money::from_units_and_nanos(&value.currency_code, value.units, value.nanos)
        .map_err(|error| invalid(field, error))
}

pub fn optional_money(
    field: &'static str,
    value: Option<&ProtoMoney>,
) -> Result<Option<Money>, Status> {
    value.map(|value| money(field, Some(value))).transpose()
}

pub fn date(field: &'static str, text: &str) -> Result<NaiveDate, Status> {
    if text.is_empty() {
        return Err(invalid(
            field,
            InputError::new("REQUIRED", "a date YYYY-MM-DD is required"),
        ));
    }
    parse_date(text).map_err(|error| invalid(field, error))
}

pub fn optional_date(field: &'static str, text: &str) -> Result<Option<NaiveDate>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    date(field, text).map(Some)
}

pub fn invoice_number(field: &'static str, text: &str) -> Result<InvoiceNumber, Status> {
    InvoiceNumber::parse(text).map_err(|error| invalid(field, error))
}

pub fn text<const MIN: usize, const MAX: usize>(
    field: &'static str,
    value: &str,
) -> Result<BoundedText<MIN, MAX>, Status> {
    BoundedText::parse(value).map_err(|error| invalid(field, error))
}

pub fn optional_text<const MIN: usize, const MAX: usize>(
    field: &'static str,
    value: &str,
) -> Result<Option<BoundedText<MIN, MAX>>, Status> {
    BoundedText::parse_optional(value).map_err(|error| invalid(field, error))
}

/// Any id type that parses from text (voucher, redemption, token ids).
pub fn id<T>(
    field: &'static str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, InputError>,
) -> Result<T, Status> {
    if text.is_empty() {
        return Err(invalid(
            field,
            InputError::new("REQUIRED", "an id is required"),
        ));
    }
    parse(text).map_err(|error| invalid(field, error))
}

pub fn page_size(value: i32) -> Result<usize, Status> {
    match usize::try_from(value) {
        Ok(0) => Ok(PAGE_SIZE_DEFAULT),
        Ok(size) if size <= PAGE_SIZE_MAX => Ok(size),
        _ => Err(invalid(
            "page_size",
            InputError::new(
                "PAGE_SIZE_OUT_OF_RANGE",
                format!("page_size must be 0 to {PAGE_SIZE_MAX}, got {value}"),
            ),
        )),
    }
}

/// A page token is the id of the last record examined; empty means the first page.
pub fn page_token<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, InputError>,
) -> Result<Option<T>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    parse(text).map(Some).map_err(|_| {
        invalid(
            "page_token",
            InputError::new(
                "MALFORMED_PAGE_TOKEN",
                "page_token must come from a previous response",
            ),
        )
    })
}

pub fn to_money(amount: Money) -> ProtoMoney {
    let (units, nanos) = amount.units_and_nanos();
    ProtoMoney {
        currency_code: CURRENCY_CNY.to_owned(),
        units,
        nanos,
    }
}

/// A total as `google.type.Money`. Totals never reach what an `i64` of yuan holds; were one to,
/// it would show as that maximum rather than wrap.
pub fn total_to_money(total: Total) -> ProtoMoney {
    let (units, nanos) = total.units_and_nanos().unwrap_or((i64::MAX, 990_000_000));
    ProtoMoney {
        currency_code: CURRENCY_CNY.to_owned(),
        units,
        nanos,
    }
}

pub fn to_timestamp(at: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).expect("below one second"),
    }
}

pub fn to_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

pub fn to_program(program: ProgramCode) -> i32 {
    match program {
        ProgramCode::Compute => pb::Program::Compute as i32,
        ProgramCode::Leasing => pb::Program::Leasing as i32,
        ProgramCode::Corpus => pb::Program::Corpus as i32,
    }
}

fn text_of<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

pub fn to_enterprise(enterprise: &Enterprise) -> pb::Enterprise {
    pb::Enterprise {
        credit_code: enterprise.credit_code.to_string(),
        name: enterprise.name.to_string(),
        check_digit_valid: enterprise.credit_code.has_valid_check_digit(),
        check_digit_override_reason: text_of(&enterprise.check_digit_override_reason),
        registered_at: Some(to_timestamp(enterprise.registered_at)),
    }
}

pub fn to_provider(provider: &Provider) -> pb::Provider {
    pb::Provider {
        credit_code: provider.credit_code.to_string(),
        name: provider.name.to_string(),
        program: to_program(provider.program),
        check_digit_valid: provider.credit_code.has_valid_check_digit(),
        check_digit_override_reason: text_of(&provider.check_digit_override_reason),
        registered_at: Some(to_timestamp(provider.registered_at)),
    }
}

pub fn to_voucher(voucher: &Voucher) -> pb::Voucher {
    let status = match voucher.status {
        VoucherStatus::Active => pb::VoucherStatus::Active,
        VoucherStatus::Revoked => pb::VoucherStatus::Revoked,
        VoucherStatus::Expired => pb::VoucherStatus::Expired,
    };
    pb::Voucher {
        voucher_id: voucher.voucher_id.to_string(),
        enterprise_credit_code: voucher.enterprise_credit_code.to_string(),
        program: to_program(voucher.program),
        face_value: Some(to_money(voucher.face_value)),
        redeemed: Some(to_money(voucher.redeemed)),
        remaining: Some(to_money(voucher.remaining())),
        valid_from: to_date(voucher.validity.first),
        valid_until: to_date(voucher.validity.last),
        redeem_by: to_date(voucher.redeem_by),
        status: status as i32,
        issued_at: Some(to_timestamp(voucher.issued_at)),
        revocation_reason: text_of(&voucher.revocation_reason),
        closed_at: voucher.closed_at.map(to_timestamp),
    }
}

pub fn to_redemption(redemption: &Redemption) -> pb::Redemption {
    let status = match redemption.status {
        RedemptionStatus::Accepted => pb::RedemptionStatus::Accepted,
        RedemptionStatus::Reversed => pb::RedemptionStatus::Reversed,
    };
    pb::Redemption {
        redemption_id: redemption.redemption_id.to_string(),
        voucher_id: redemption.voucher_id.to_string(),
        program: to_program(redemption.program),
        enterprise_credit_code: redemption.enterprise_credit_code.to_string(),
        provider_credit_code: redemption.provider_credit_code.to_string(),
        invoice_number: redemption.invoice.number.to_string(),
        invoice_date: to_date(redemption.invoice.date),
        invoice_amount: Some(to_money(redemption.invoice.amount)),
        computed_subsidy: Some(to_money(redemption.computed_subsidy)),
        subsidy: Some(to_money(redemption.subsidy)),
        status: status as i32,
        redeemed_at: Some(to_timestamp(redemption.redeemed_at)),
        allow_partial: redemption.allow_partial,
        reversal_reason: text_of(&redemption.reversal_reason),
        reversed_at: redemption.reversed_at.map(to_timestamp),
    }
}

pub fn to_balance(balance: &Balance) -> pb::Balance {
    pb::Balance {
        enterprise_credit_code: balance.enterprise_credit_code.to_string(),
        enterprise_name: balance.enterprise_name.clone(),
        program: to_program(balance.program),
        period_start: to_date(balance.period.first),
        period_end: to_date(balance.period.last),
        cap: Some(to_money(balance.cap)),
        committed: Some(to_money(balance.committed)),
        redeemed: Some(to_money(balance.redeemed)),
        available_to_issue: Some(to_money(balance.available_to_issue)),
        outstanding: Some(to_money(balance.outstanding)),
        redeemed_by_year: balance
            .redeemed_by_year
            .iter()
            .map(|(year, redeemed)| pb::YearTotal {
                year: *year,
                redeemed: Some(to_money(*redeemed)),
            })
            .collect(),
    }
}

pub fn to_program_summary(summary: &ProgramSummary) -> pb::ProgramSummaryResponse {
    pb::ProgramSummaryResponse {
        program: to_program(summary.program_period.program),
        period_start: to_date(summary.period.first),
        period_end: to_date(summary.period.last),
        cap_per_enterprise: Some(to_money(summary.cap)),
        enterprises: summary.totals.enterprises,
        vouchers: summary.totals.vouchers,
        committed: Some(total_to_money(summary.totals.committed)),
        redeemed: Some(total_to_money(summary.totals.redeemed)),
        reversed: Some(total_to_money(summary.totals.reversed)),
        redemptions: summary.totals.redemptions,
        providers: summary
            .providers
            .iter()
            .map(|(code, name, totals)| pb::ProviderTotal {
                provider_credit_code: code.to_string(),
                provider_name: name.clone(),
                redemptions: totals.redemptions,
                redeemed: Some(total_to_money(totals.redeemed)),
                reversed: Some(total_to_money(totals.reversed)),
            })
            .collect(),
        providers_truncated: summary.providers_truncated,
    }
}

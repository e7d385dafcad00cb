//! How single values are written in stored events, by hand and forever: amounts as decimal
//! text with exactly two places ("1234.50"), days as `YYYY-MM-DD`, instants as RFC 3339 with
//! their offset and every digit of the second kept, ids as their number.
//!
//! Nothing here goes through a dependency's serde format, so a new `rust_decimal` or `chrono`
//! cannot change what a stored event means. Reading is lenient where the log's own history
//! requires it (text is taken as it was accepted then) and strict where a value could not
//! have been written (an amount with a fraction of a fen).

use std::str::FromStr;

use chrono::{NaiveDate, SecondsFormat};
use rust_decimal::Decimal;

use super::FormatError;
use crate::domain::credit_code::CreditCode;
use crate::domain::ids::SequentialId;
use crate::domain::model::Timestamp;
use crate::domain::money::{Money, Total};

/// Decimal places every stored amount is written with.
const FEN_PLACES: u32 = 2;

pub fn amount_text(amount: Money) -> String {
    decimal_text(amount.as_decimal())
}

pub fn total_text(total: Total) -> String {
    decimal_text(total.as_decimal())
}

fn decimal_text(value: Decimal) -> String {
    let mut fixed = value;
    fixed.rescale(FEN_PLACES);
    fixed.to_string()
}

pub fn amount(text: &str, field: &str) -> Result<Money, FormatError> {
    Money::from_decimal(decimal(text, field)?)
        .map_err(|error| FormatError::field(field, format!("{text:?}: {error}")))
}

pub fn total(text: &str, field: &str) -> Result<Total, FormatError> {
    Total::try_from(decimal(text, field)?)
        .map_err(|error| FormatError::field(field, format!("{text:?}: {error}")))
}

fn decimal(text: &str, field: &str) -> Result<Decimal, FormatError> {
    Decimal::from_str(text)
        .map_err(|_| FormatError::field(field, format!("{text:?} is not a decimal amount")))
}

pub fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

pub fn day(text: &str, field: &str) -> Result<NaiveDate, FormatError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| FormatError::field(field, format!("{text:?} is not a YYYY-MM-DD day")))
}

pub fn instant_text(instant: &Timestamp) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

pub fn instant(text: &str, field: &str) -> Result<Timestamp, FormatError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|_| FormatError::field(field, format!("{text:?} is not an RFC 3339 instant")))
}

pub fn credit_code(text: &str, field: &str) -> Result<CreditCode, FormatError> {
    CreditCode::parse(text).map_err(|error| FormatError::field(field, error.to_string()))
}

pub fn id_number<const PREFIX: char>(id: SequentialId<PREFIX>) -> u64 {
    id.number()
}

pub fn id<const PREFIX: char>(
    number: u64,
    field: &str,
) -> Result<SequentialId<PREFIX>, FormatError> {
    SequentialId::from_number(number)
        .ok_or_else(|| FormatError::field(field, format!("{number} is not an id number")))
}

/// An id written as text (`V000000000001`), as the first format did.
pub fn id_from_text<const PREFIX: char>(
    text: &str,
    field: &str,
) -> Result<SequentialId<PREFIX>, FormatError> {
    SequentialId::parse(text).map_err(|error| FormatError::field(field, error.to_string()))
}

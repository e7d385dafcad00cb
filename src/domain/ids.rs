//! Identifiers the ledger hands out: a letter and twelve digits, `V000000000042`.
//!
//! They are sequential, so their text sorts in the order they were issued; that order is what
//! pages walk through.

use crate::domain::reason::ReasonCode;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::input::InputError;

pub type VoucherId = SequentialId<'V'>;
pub type RedemptionId = SequentialId<'R'>;
pub type TokenId = SequentialId<'T'>;
pub type SettlementId = SequentialId<'S'>;
/// An enterprise's application for a voucher (申领).
pub type ApplicationId = SequentialId<'A'>;
/// A public notice (公示) of approved claims.
pub type NoticeId = SequentialId<'N'>;

const DIGITS: usize = 12;

/// The `number`th thing of its kind, written with the kind's letter.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SequentialId<const PREFIX: char>(u64);

impl<const PREFIX: char> SequentialId<PREFIX> {
    pub const FIRST: SequentialId<PREFIX> = SequentialId(1);
    const NUMBER_MAX: u64 = 999_999_999_999;

    pub fn parse(text: &str) -> Result<Self, InputError> {
        let malformed = || {
            InputError::new(
                ReasonCode::MalformedId,
                format!(
                    "{:?} is not an id of the form {PREFIX} followed by {DIGITS} digits",
                    super::invoice::truncate_for_message(text)
                ),
            )
        };
        let digits = text.strip_prefix(PREFIX).ok_or_else(malformed)?;
        if digits.len() != DIGITS || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(malformed());
        }
        let number: u64 = digits.parse().map_err(|_| malformed())?;
        if number == 0 {
            return Err(malformed());
        }
        Ok(SequentialId(number))
    }

    pub fn number(self) -> u64 {
        self.0
    }

    /// The id with this number, if it is one an id may have (1 to 999,999,999,999).
    pub fn from_number(number: u64) -> Option<Self> {
        (1..=Self::NUMBER_MAX)
            .contains(&number)
            .then_some(SequentialId(number))
    }

    /// The id after this one.
    pub fn next(self) -> Self {
        assert!(self.0 < Self::NUMBER_MAX, "identifier space exhausted");
        SequentialId(self.0 + 1)
    }
}

impl<const PREFIX: char> fmt::Display for SequentialId<PREFIX> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{PREFIX}{:0width$}", self.0, width = DIGITS)
    }
}

impl<const PREFIX: char> fmt::Debug for SequentialId<PREFIX> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

impl<const PREFIX: char> TryFrom<String> for SequentialId<PREFIX> {
    type Error = InputError;
    fn try_from(text: String) -> Result<Self, InputError> {
        Self::parse(&text)
    }
}

impl<const PREFIX: char> From<SequentialId<PREFIX>> for String {
    fn from(id: SequentialId<PREFIX>) -> String {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_back() {
        let id = VoucherId::FIRST.next().next();
        assert_eq!(id.to_string(), "V000000000003");
        assert_eq!(VoucherId::parse("V000000000003"), Ok(id));
        assert!(VoucherId::parse("R000000000003").is_err());
        assert!(VoucherId::parse("V3").is_err());
        assert!(VoucherId::parse("V000000000000").is_err());
        assert!(VoucherId::parse("V-00000000003").is_err());
    }

    #[test]
    fn text_order_is_issue_order() {
        let earlier = RedemptionId::FIRST.next().to_string();
        let later = RedemptionId::parse("R000000000010")
            .expect("id")
            .to_string();
        assert!(earlier < later);
    }
}

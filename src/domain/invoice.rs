//! 发票号码: the number of a Chinese VAT invoice.
//!
//! Two forms are in use: the 20-digit number of a fully digital invoice (数电票), and the
//! older pair of a 10- or 12-digit invoice code and an 8-digit number, written here as
//! `<code>-<number>`. An [`InvoiceNumber`] holds one of them exactly as given; it is the key
//! that makes every invoice redeemable once, ever, across all programs.

use crate::domain::reason::ReasonCode;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::input::InputError;

/// The longest form: a 12-digit code, a hyphen and an 8-digit number.
const MAX_LENGTH: usize = 21;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InvoiceNumber(String);

impl InvoiceNumber {
    /// An invoice number read back from the event log, as accepted when first written (see
    /// `BoundedText::from_stored`): a later, stricter rule must not make history unreadable.
    pub fn from_stored(text: String) -> InvoiceNumber {
        InvoiceNumber(text)
    }

    pub fn parse(text: &str) -> Result<InvoiceNumber, InputError> {
        if is_digital_invoice_number(text) || is_code_and_number(text) {
            debug_assert!(text.len() <= MAX_LENGTH);
            return Ok(InvoiceNumber(text.to_owned()));
        }
        Err(InputError::new(
            ReasonCode::MalformedInvoiceNumber,
            format!(
                "invoice number {:?} is neither 20 digits (数电票) nor \
                 <10 or 12-digit code>-<8-digit number>",
                truncate_for_message(text)
            ),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_digital_invoice_number(text: &str) -> bool {
    text.len() == 20 && all_digits(text)
}

fn is_code_and_number(text: &str) -> bool {
    let Some((code, number)) = text.split_once('-') else {
        return false;
    };
    (code.len() == 10 || code.len() == 12)
        && all_digits(code)
        && number.len() == 8
        && all_digits(number)
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|byte| byte.is_ascii_digit())
}

/// Keeps error messages short whatever a caller sends.
pub(crate) fn truncate_for_message(text: &str) -> String {
    const SHOWN_CHARACTERS_MAX: usize = 40;
    let mut shown: String = text.chars().take(SHOWN_CHARACTERS_MAX).collect();
    if text.chars().count() > SHOWN_CHARACTERS_MAX {
        shown.push('…');
    }
    shown
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for InvoiceNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "InvoiceNumber({})", self.0)
    }
}

impl TryFrom<String> for InvoiceNumber {
    type Error = InputError;
    fn try_from(text: String) -> Result<InvoiceNumber, InputError> {
        InvoiceNumber::parse(&text)
    }
}

impl From<InvoiceNumber> for String {
    fn from(number: InvoiceNumber) -> String {
        number.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_are_accepted() {
        for text in [
            "24322000000012345678",
            "3200231130-01234567",
            "032002300111-00001234",
        ] {
            assert_eq!(InvoiceNumber::parse(text).map(|n| n.0), Ok(text.to_owned()));
        }
    }

    #[test]
    fn other_shapes_are_refused() {
        for text in [
            "",
            "2432200000001234567",           // 19 digits
            "243220000000123456789",         // 21 digits
            "2432200000001234567A",          // a letter
            "32002311300-01234567",          // 11-digit code
            "3200231130-0123456",            // 7-digit number
            "3200231130_01234567",           // wrong separator
            "3200231130-01234567-1",         // trailing part
            "３２００２３１１３０-01234567", // full-width digits
            " 24322000000012345678",
        ] {
            let error = InvoiceNumber::parse(text).expect_err(text);
            assert_eq!(error.reason, "MALFORMED_INVOICE_NUMBER");
        }
    }

    #[test]
    fn long_junk_is_cut_short_in_the_message() {
        let junk = "9".repeat(10_000);
        let error = InvoiceNumber::parse(&junk).expect_err("too long");
        assert!(error.message.len() < 200);
    }
}

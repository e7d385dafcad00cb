//! 统一社会信用代码: the 18-character unified social credit code of GB 32100-2015.
//!
//! A [`CreditCode`] always holds 18 characters of the standard's alphabet (digits and the
//! capital letters without I, O, S, V and Z). Whether its last character is the right check
//! digit is a separate question ([`CreditCode::has_valid_check_digit`]), because codes with bad
//! check digits are in circulation and the bureau may register one with a reason.

use crate::domain::reason::ReasonCode;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::input::InputError;

/// The 31 characters of GB 32100-2015, in the order of their values 0..=30.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weight of each of the first 17 positions: 3^(i) mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

const LENGTH: usize = 18;

/// An 18-character code of the GB 32100-2015 alphabet, upper case.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode([u8; LENGTH]);

impl CreditCode {
    /// Checks length and alphabet; lower-case letters are taken as upper case. The check digit
    /// is not checked here: see [`CreditCode::parse_checked`].
    pub fn parse(text: &str) -> Result<CreditCode, InputError> {
        let upper = text.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != LENGTH {
            return Err(InputError::new(
                ReasonCode::MalformedCreditCode,
                format!(
                    "credit code must be 18 characters, got {}",
                    text.chars().count()
                ),
            ));
        }
        if let Some(position) = bytes.iter().position(|byte| value_of(*byte).is_none()) {
            return Err(InputError::new(
                ReasonCode::MalformedCreditCode,
                format!(
                    "credit code character {} is not in the GB 32100 alphabet \
                     (digits and capital letters except I, O, S, V, Z)",
                    position + 1
                ),
            ));
        }
        let mut code = [0u8; LENGTH];
        code.copy_from_slice(bytes);
        Ok(CreditCode(code))
    }

    /// [`CreditCode::parse`], and the check digit must be right.
    pub fn parse_checked(text: &str) -> Result<CreditCode, InputError> {
        let code = CreditCode::parse(text)?;
        code.require_valid_check_digit()?;
        Ok(code)
    }

    pub fn has_valid_check_digit(&self) -> bool {
        self.0[LENGTH - 1] == self.expected_check_digit()
    }

    /// An error that says which check digit the code should have had.
    pub fn require_valid_check_digit(&self) -> Result<(), InputError> {
        if self.has_valid_check_digit() {
            return Ok(());
        }
        Err(InputError::new(
            ReasonCode::CreditCodeCheckDigit,
            format!(
                "credit code {self} fails the GB 32100 check digit (expected {}, found {})",
                char::from(self.expected_check_digit()),
                char::from(self.0[LENGTH - 1])
            ),
        ))
    }

    fn expected_check_digit(&self) -> u8 {
        let weighted_sum: u32 = self.0[..LENGTH - 1]
            .iter()
            .zip(WEIGHTS)
            .map(|(byte, weight)| value_of(*byte).expect("alphabet checked at parse") * weight)
            .sum();
        let check_value = (31 - weighted_sum % 31) % 31;
        ALPHABET[check_value as usize]
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("the alphabet is ASCII")
    }
}

fn value_of(byte: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|candidate| *candidate == byte)
        .map(|index| index as u32)
}

impl fmt::Display for CreditCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "CreditCode({})", self.as_str())
    }
}

impl TryFrom<String> for CreditCode {
    type Error = InputError;
    fn try_from(text: String) -> Result<CreditCode, InputError> {
        CreditCode::parse(&text)
    }
}

impl From<CreditCode> for String {
    fn from(code: CreditCode) -> String {
        code.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes of well-known companies, as printed on their business licences.
    const REAL_CODES: &[&str] = &[
        "914403001922038216", // 华为技术有限公司
        "9144030071526726XG", // 深圳市腾讯计算机系统有限公司
        "91110108551385082Q", // 北京小米科技有限责任公司
        "91330100716105852F", // 阿里巴巴（中国）有限公司
    ];

    #[test]
    fn real_codes_pass_the_check_digit() {
        for text in REAL_CODES {
            let code = CreditCode::parse_checked(text);
            assert!(code.is_ok(), "{text} should pass: {code:?}");
        }
    }

    #[test]
    fn every_single_character_corruption_of_a_real_code_is_caught() {
        for text in REAL_CODES {
            for position in 0..LENGTH {
                for replacement in ALPHABET.iter() {
                    let mut corrupted = text.as_bytes().to_vec();
                    if corrupted[position] == *replacement {
                        continue;
                    }
                    corrupted[position] = *replacement;
                    let corrupted = String::from_utf8(corrupted).expect("ascii");
                    let parsed = CreditCode::parse(&corrupted).expect("still the alphabet");
                    assert!(!parsed.has_valid_check_digit(), "{corrupted} should fail");
                }
            }
        }
    }

    #[test]
    fn swapping_two_different_adjacent_characters_is_caught() {
        for text in REAL_CODES {
            let bytes = text.as_bytes();
            for position in 0..LENGTH - 2 {
                if bytes[position] == bytes[position + 1] {
                    continue;
                }
                let mut swapped = bytes.to_vec();
                swapped.swap(position, position + 1);
                let swapped = String::from_utf8(swapped).expect("ascii");
                let parsed = CreditCode::parse(&swapped).expect("still the alphabet");
                assert!(!parsed.has_valid_check_digit(), "{swapped} should fail");
            }
        }
    }

    #[test]
    fn check_digit_error_names_the_expected_digit() {
        let error = CreditCode::parse_checked("914403001922038217").expect_err("bad digit");
        assert_eq!(error.reason, "CREDIT_CODE_CHECK_DIGIT");
        assert!(error.message.contains("expected 6"), "{}", error.message);
    }

    #[test]
    fn wrong_length_and_letters_outside_the_alphabet_are_refused() {
        for text in [
            "",
            "91440300192203821",
            "9144030019220382166",
            "91440300192203821O",
        ] {
            let error = CreditCode::parse(text).expect_err(text);
            assert_eq!(error.reason, "MALFORMED_CREDIT_CODE", "{text}");
        }
        for letter in ["I", "O", "S", "V", "Z", " ", "-"] {
            let text = format!("91440300192203821{letter}");
            assert!(
                CreditCode::parse(&text).is_err(),
                "{text} should be refused"
            );
        }
        assert!(CreditCode::parse("国家企业信用信息公示系统统一代码").is_err());
    }

    #[test]
    fn lower_case_is_read_as_upper_case() {
        let code = CreditCode::parse_checked("9144030071526726xg").expect("valid");
        assert_eq!(code.as_str(), "9144030071526726XG");
    }
}

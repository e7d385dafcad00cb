//! Free text from outside, bounded: names, reasons, descriptions and idempotency keys.

use crate::domain::reason::ReasonCode;
use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::input::InputError;

/// A name of an enterprise or provider: 1 to 200 characters, no control characters.
pub type Name = BoundedText<1, 200>;
/// Why the bureau did something (revocation, reversal, check-digit override): 1 to 500.
pub type Reason = BoundedText<1, 500>;
/// Who holds a token and why: up to 200 characters.
pub type Description = BoundedText<0, 200>;
/// Where a document is: a file name or URI, 1 to 500 characters.
pub type Reference = BoundedText<1, 500>;

/// Text of `MIN..=MAX` characters after trimming, without control characters and without
/// characters a reader cannot see (see [`is_invisible`]).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BoundedText<const MIN: usize, const MAX: usize>(String);

impl<const MIN: usize, const MAX: usize> BoundedText<MIN, MAX> {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let trimmed = text.trim();
        let length = trimmed.chars().count();
        if length < MIN {
            return Err(InputError::new(ReasonCode::Required, "must not be empty"));
        }
        if length > MAX {
            return Err(InputError::new(
                ReasonCode::TooLong,
                format!("must be at most {MAX} characters, got {length}"),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(InputError::new(
                ReasonCode::ControlCharacter,
                "must not contain control characters",
            ));
        }
        if let Some((position, invisible)) = trimmed
            .chars()
            .enumerate()
            .find(|(_, character)| is_invisible(*character))
        {
            return Err(InputError::new(
                ReasonCode::InvisibleCharacter,
                format!(
                    "must not contain invisible or formatting characters: U+{:04X} at character {}",
                    u32::from(invisible),
                    position + 1
                ),
            ));
        }
        Ok(BoundedText(trimmed.to_owned()))
    }

    /// Text read back from the event log, as it was accepted when first written. Rules for new
    /// input may tighten (a character refused that once passed); history must stay readable,
    /// so stored text is not checked again.
    pub fn from_stored(text: String) -> Self {
        BoundedText(text)
    }

    /// `None` for empty text, else the parsed text. For optional fields.
    pub fn parse_optional(text: &str) -> Result<Option<Self>, InputError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        Self::parse(text).map(Some)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Display for BoundedText<MIN, MAX> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Debug for BoundedText<MIN, MAX> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", self.0)
    }
}

impl<const MIN: usize, const MAX: usize> TryFrom<String> for BoundedText<MIN, MAX> {
    type Error = InputError;
    fn try_from(text: String) -> Result<Self, InputError> {
        Self::parse(&text)
    }
}

impl<const MIN: usize, const MAX: usize> From<BoundedText<MIN, MAX>> for String {
    fn from(text: BoundedText<MIN, MAX>) -> String {
        text.0
    }
}

/// Whether a character changes how text looks without being seen itself: formatting
/// characters (Unicode category Cf: right-to-left overrides, zero-width spaces and joiners,
/// the byte-order mark), line and paragraph separators, private-use and unassigned code
/// points, and the blank letters and selectors that render as nothing. With them a name can
/// look like another enterprise's, or read reversed.
pub fn is_invisible(character: char) -> bool {
    let invisible_category = matches!(
        character.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
    );
    let blank_or_selector = matches!(
        u32::from(character),
        0x034F | 0x115F | 0x1160 | 0x180B..=0x180F | 0x2800 | 0x3164 | 0xFE00..=0xFE0F | 0xFFA0
            | 0xE0100..=0xE01EF
    );
    invisible_category || blank_or_selector
}

/// A caller's idempotency key: 1 to 64 of `A-Z a-z 0-9 - _ . :` (a UUID fits).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

impl RequestId {
    const LENGTH_MAX: usize = 64;

    pub fn parse(text: &str) -> Result<RequestId, InputError> {
        if text.is_empty() {
            return Err(InputError::new(
                ReasonCode::Required,
                "request_id must be set: it makes retries safe",
            ));
        }
        if text.len() > Self::LENGTH_MAX {
            return Err(InputError::new(
                ReasonCode::TooLong,
                "request_id must be at most 64 characters",
            ));
        }
        let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte);
        if !text.bytes().all(allowed) {
            return Err(InputError::new(
                ReasonCode::MalformedRequestId,
                "request_id may hold only A-Z a-z 0-9 - _ . :",
            ));
        }
        Ok(RequestId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A request id read back from the event log, as accepted when first written (see
    /// [`BoundedText::from_stored`]).
    pub fn from_stored(text: String) -> RequestId {
        RequestId(text)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "RequestId({})", self.0)
    }
}

impl TryFrom<String> for RequestId {
    type Error = InputError;
    fn try_from(text: String) -> Result<RequestId, InputError> {
        RequestId::parse(&text)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("  启东算力科技有限公司 ").map(|n| n.0),
            Ok("启东算力科技有限公司".to_owned())
        );
        assert_eq!(
            Name::parse("   ").map_err(|e| e.reason),
            Err(ReasonCode::Required)
        );
        assert_eq!(
            Name::parse(&"名".repeat(201)).map_err(|e| e.reason),
            Err(ReasonCode::TooLong)
        );
        assert!(Name::parse(&"名".repeat(200)).is_ok());
        assert_eq!(
            Name::parse("a\u{0}b").map_err(|e| e.reason),
            Err(ReasonCode::ControlCharacter)
        );
        assert_eq!(Description::parse_optional(""), Ok(None));
    }

    #[test]
    fn invisible_and_formatting_characters_are_refused_naming_them() {
        for (text, code_point) in [
            ("启东\u{202E}司公限有", "U+202E"),
            ("启东\u{200B}智算", "U+200B"),
            ("\u{FEFF}启东智算", "U+FEFF"),
            ("启东\u{2066}智算", "U+2066"),
            ("启\u{3164}东", "U+3164"),
            ("启东\u{FE0F}", "U+FE0F"),
            ("启东\u{E000}", "U+E000"),
            ("启东\u{2028}智算", "U+2028"),
        ] {
            let refused = Name::parse(text).expect_err(text);
            assert_eq!(refused.reason, "INVISIBLE_CHARACTER", "{text:?}");
            assert!(refused.message.contains(code_point), "{}", refused.message);
        }
        for visible in [
            "启东智算科技有限公司",
            "Qidong AI Co., Ltd.",
            "启东　智算",
            "Café Müller (启东) 有限公司",
        ] {
            assert!(Name::parse(visible).is_ok(), "{visible:?} is refused");
        }
    }

    #[test]
    fn request_ids_take_uuids_and_refuse_the_rest() {
        assert!(RequestId::parse("9b2e8f1c-3d4a-4c5b-8e6f-7a8b9c0d1e2f").is_ok());
        assert!(RequestId::parse("issue:2027:0001").is_ok());
        assert_eq!(
            RequestId::parse("").map_err(|e| e.reason),
            Err(ReasonCode::Required)
        );
        assert_eq!(
            RequestId::parse("a b").map_err(|e| e.reason),
            Err(ReasonCode::MalformedRequestId)
        );
        assert_eq!(
            RequestId::parse(&"a".repeat(65)).map_err(|e| e.reason),
            Err(ReasonCode::TooLong)
        );
    }
}

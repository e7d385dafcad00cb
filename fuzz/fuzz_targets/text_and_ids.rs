//! Free text and identifiers from outside: `BoundedText` (Name 1..=200, Reason 1..=500,
//! Description 0..=200, and `parse_optional`), `RequestId::parse`, and the sequential ids
//! `VoucherId`, `RedemptionId`, `TokenId` (`SequentialId::parse`).
//!
//! Every parser sees the same text. Checks: bounded text succeeds exactly when the trimmed
//! text has MIN..=MAX characters and no control character, holds the trimmed text, and
//! re-parses to itself; `parse_optional` is None exactly for blank text; a request id
//! succeeds exactly for 1..=64 bytes of `A-Z a-z 0-9 - _ . :` and holds the text; an id
//! succeeds exactly for its letter and 12 ASCII digits not all zero, and prints back to the
//! same text with the same number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voucher_ledger::domain::ids::{RedemptionId, SequentialId, TokenId, VoucherId};
use voucher_ledger::domain::text::{BoundedText, Description, Name, Reason, RequestId};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    bounded::<1, 200>(text, Name::parse(text), Name::parse_optional(text));
    bounded::<1, 500>(text, Reason::parse(text), Reason::parse_optional(text));
    bounded::<0, 200>(
        text,
        Description::parse(text),
        Description::parse_optional(text),
    );
    request_id(text);
    sequential::<'V'>(text, VoucherId::parse(text));
    sequential::<'R'>(text, RedemptionId::parse(text));
    sequential::<'T'>(text, TokenId::parse(text));
});

type Parsed<T> = Result<T, voucher_ledger::domain::input::InputError>;

fn bounded<const MIN: usize, const MAX: usize>(
    text: &str,
    parsed: Parsed<BoundedText<MIN, MAX>>,
    optional: Parsed<Option<BoundedText<MIN, MAX>>>,
) {
    let trimmed = text.trim();
    let length = trimmed.chars().count();
    let expected = if length < MIN {
        Err("REQUIRED")
    } else if length > MAX {
        Err("TOO_LONG")
    } else if trimmed.chars().any(char::is_control) {
        Err("CONTROL_CHARACTER")
    } else {
        Ok(trimmed)
    };
    let got = parsed.as_ref().map(|t| t.as_str()).map_err(|e| e.reason.as_str());
    assert_eq!(got, expected, "BoundedText<{MIN}, {MAX}> of {text:?}");
    if let Ok(held) = &parsed {
        assert_eq!(held.to_string(), trimmed);
        assert_eq!(
            BoundedText::<MIN, MAX>::parse(held.as_str()).as_ref(),
            Ok(held)
        );
        assert!(held.as_str().chars().count() <= MAX);
    }
    match optional {
        Ok(None) => assert!(trimmed.is_empty(), "{text:?} read as absent"),
        Ok(Some(held)) => {
            assert!(!trimmed.is_empty());
            assert_eq!(
                Ok(&held),
                parsed.as_ref(),
                "optional and required differ on {text:?}"
            );
        }
        Err(error) => {
            assert!(!trimmed.is_empty(), "blank optional text refused: {error}");
            assert_eq!(Err(error.reason.as_str()), got);
        }
    }
}

fn request_id(text: &str) {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
    let expected_ok = (1..=64).contains(&text.len()) && text.bytes().all(allowed);
    let parsed = RequestId::parse(text);
    assert_eq!(
        parsed.is_ok(),
        expected_ok,
        "RequestId {text:?}: {parsed:?}"
    );
    if let Ok(id) = parsed {
        assert_eq!(id.as_str(), text);
        assert_eq!(id.to_string(), text);
        assert_eq!(RequestId::parse(id.as_str()), Ok(id));
    }
}

fn sequential<const PREFIX: char>(text: &str, parsed: Parsed<SequentialId<PREFIX>>) {
    let digits = text.strip_prefix(PREFIX);
    let number = digits
        .filter(|d| d.len() == 12 && d.bytes().all(|b| b.is_ascii_digit()))
        .map(|d| d.parse::<u64>().expect("12 digits fit"))
        .filter(|n| *n != 0);
    match (number, parsed) {
        (Some(number), Ok(id)) => {
            assert_eq!(id.number(), number);
            assert_eq!(id.to_string(), text, "{PREFIX} id prints differently");
            assert_eq!(String::from(id), text);
            assert_eq!(SequentialId::<PREFIX>::parse(&id.to_string()), Ok(id));
            if number < 999_999_999_999 {
                let next = id.next();
                assert_eq!(next.number(), number + 1);
                assert!(
                    next.to_string() > id.to_string(),
                    "text order is not issue order"
                );
            }
        }
        (None, Err(error)) => assert_eq!(error.reason, "MALFORMED_ID"),
        (expected, got) => panic!("{PREFIX} id {text:?}: expected {expected:?}, got {got:?}"),
    }
}

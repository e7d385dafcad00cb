//! 统一社会信用代码 from outside: `CreditCode::parse`, `parse_checked` and
//! `has_valid_check_digit`.
//!
//! Checks: `parse` succeeds exactly when the text is 18 characters of the GB 32100 alphabet
//! once ASCII letters are upper-cased; what it holds is that upper-cased text, 18 bytes of the
//! alphabet, and `as_str` (and Display) re-parse to the same code; the check digit agrees with
//! an independent implementation of GB 32100-2015; `parse_checked` is exactly `parse` plus a
//! right check digit; and any single-character change to a valid code makes it invalid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voucher_ledger::domain::credit_code::CreditCode;
use voucher_ledger_fuzz::{CREDIT_CODE_ALPHABET, credit_code_check_char, credit_code_value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    // Also the same text with its first 17 characters completed by the right check character,
    // so that valid codes are exercised on every run and not only when the fuzzer finds one.
    let upper = text.to_ascii_uppercase();
    if let Some(first_17) = upper.get(..17)
        && first_17.chars().all(|c| credit_code_value(c).is_some())
    {
        let valid = format!("{first_17}{}", credit_code_check_char(first_17));
        check(&valid);
        let code = CreditCode::parse_checked(&valid).expect("a completed code passes");
        single_changes_are_caught(&code);
    }
});

fn check(text: &str) {
    let upper = text.to_ascii_uppercase();
    let expected_ok = upper.len() == 18 && upper.chars().all(|c| credit_code_value(c).is_some());
    let parsed = CreditCode::parse(text);
    assert_eq!(
        parsed.is_ok(),
        expected_ok,
        "{text:?}: parse gave {parsed:?}"
    );
    let checked = CreditCode::parse_checked(text);
    let Ok(code) = parsed else {
        let error = parsed.expect_err("not ok");
        assert_eq!(error.reason, "MALFORMED_CREDIT_CODE");
        assert_eq!(checked.map_err(|e| e.reason.as_str()), Err("MALFORMED_CREDIT_CODE"));
        return;
    };

    let shown = code.as_str();
    assert_eq!(shown, upper, "{text:?} held as {shown:?}");
    assert_eq!(shown.len(), 18);
    assert!(shown.chars().all(|c| CREDIT_CODE_ALPHABET.contains(c)));
    assert_eq!(code.to_string(), shown);
    assert_eq!(
        CreditCode::parse(shown),
        Ok(code),
        "{shown:?} does not re-parse"
    );
    assert_eq!(String::from(code), shown);

    let right = credit_code_check_char(&shown[..17]);
    let valid = shown.ends_with(right);
    assert_eq!(
        code.has_valid_check_digit(),
        valid,
        "{shown:?}: check digit should be {right}"
    );
    assert_eq!(code.require_valid_check_digit().is_ok(), valid);
    match checked {
        Ok(checked) => {
            assert!(
                valid,
                "{shown:?} passed parse_checked with a wrong check digit"
            );
            assert_eq!(checked, code);
        }
        Err(error) => {
            assert!(!valid, "{shown:?} failed parse_checked: {error}");
            assert_eq!(error.reason, "CREDIT_CODE_CHECK_DIGIT");
            assert!(
                error.message.contains(&format!("expected {right}")),
                "{}",
                error.message
            );
        }
    }
}

/// GB 32100's weights are all non-zero mod 31 (a prime), so changing any one character of a
/// valid code must break its check digit.
fn single_changes_are_caught(code: &CreditCode) {
    let text = code.as_str();
    for position in 0..18 {
        let mut bytes = text.as_bytes().to_vec();
        let value = credit_code_value(bytes[position] as char).expect("alphabet");
        bytes[position] = CREDIT_CODE_ALPHABET.as_bytes()[((value + 1) % 31) as usize];
        let changed = std::str::from_utf8(&bytes).expect("ascii");
        let changed = CreditCode::parse(changed).expect("still the alphabet");
        assert!(
            !changed.has_valid_check_digit(),
            "{changed:?} (one change from {text}) passes"
        );
    }
}

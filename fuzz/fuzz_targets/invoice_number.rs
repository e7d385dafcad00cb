//! 发票号码 from outside: `InvoiceNumber::parse`.
//!
//! Checks: it succeeds exactly when the text is 20 ASCII digits (数电票) or a 10- or 12-digit
//! code, a hyphen and an 8-digit number; what it holds is the text unchanged (at most 21
//! bytes), which re-parses to itself; a refusal is MALFORMED_INVOICE_NUMBER with a message of
//! bounded length whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voucher_ledger::domain::invoice::InvoiceNumber;

fn digits(text: &str, count: usize) -> bool {
    text.len() == count && text.bytes().all(|b| b.is_ascii_digit())
}

fn expected_ok(text: &str) -> bool {
    if digits(text, 20) {
        return true;
    }
    match text.split_once('-') {
        Some((code, number)) => (digits(code, 10) || digits(code, 12)) && digits(number, 8),
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = InvoiceNumber::parse(text);
    assert_eq!(parsed.is_ok(), expected_ok(text), "{text:?}: {parsed:?}");
    match parsed {
        Ok(number) => {
            assert_eq!(number.as_str(), text);
            assert!(number.as_str().len() <= 21);
            assert_eq!(number.to_string(), text);
            assert_eq!(InvoiceNumber::parse(number.as_str()), Ok(number.clone()));
            assert_eq!(String::from(number), text);
        }
        Err(error) => {
            assert_eq!(error.reason, "MALFORMED_INVOICE_NUMBER");
            // At most 40 characters of the input are quoted (each escaped as at most 10 bytes).
            assert!(
                error.message.len() < 600,
                "message of {} bytes",
                error.message.len()
            );
        }
    }
});

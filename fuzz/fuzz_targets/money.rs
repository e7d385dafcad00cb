//! Money from outside: the wire's `google.type.Money` parts (`Money::from_units_and_nanos`)
//! and a person's typed yuan (`Money::parse_yuan`).
//!
//! Checks, against an independent exact-decimal oracle: a parse succeeds exactly when the
//! input is a whole number of fen in (0, 10,000,000,000.00] (typed: digits, commas and one
//! decimal point; wire: CNY, |nanos| < 1e9, no mixed signs, whole fen), to the same value; a
//! refusal names one of the rules the input breaks (a typed text of more than 28 digits may
//! also be refused as malformed, but is never rounded); and every Money made round-trips
//! through `units_and_nanos`, `to_string`, `to_grouped_string` and back through both parsers.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use voucher_ledger::domain::money::Money;
use voucher_ledger_fuzz::{MAX_FEN, check_money, exact_fen};

#[derive(Arbitrary, Debug)]
enum Input<'a> {
    /// Any parts at all.
    Wire {
        currency: &'a str,
        units: i64,
        nanos: i32,
    },
    /// Parts that are mostly well-shaped, to spend time near the bounds and signs.
    WireNearBounds { cny: bool, units: i64, fen: i8 },
    /// A person's text.
    Typed(&'a str),
}

fuzz_target!(|input: Input<'_>| match input {
    Input::Wire {
        currency,
        units,
        nanos,
    } => wire(currency, units, nanos),
    Input::WireNearBounds { cny, units, fen } => {
        let currency = if cny { "CNY" } else { "cny" };
        wire(
            currency,
            units % 12_000_000_000,
            i32::from(fen) * 10_000_000,
        )
    }
    Input::Typed(text) => typed(text),
});

/// Every rule of `from_units_and_nanos` that these parts break, or their value in fen.
fn wire_oracle(currency: &str, units: i64, nanos: i32) -> Result<i128, BTreeSet<&'static str>> {
    let mut broken = BTreeSet::new();
    if currency != "CNY" {
        broken.insert("UNSUPPORTED_CURRENCY");
    }
    if i64::from(nanos).abs() >= 1_000_000_000 {
        broken.insert("NANOS_OUT_OF_RANGE");
    }
    if (units > 0 && nanos < 0) || (units < 0 && nanos > 0) {
        broken.insert("MIXED_SIGNS");
    }
    if nanos % 10_000_000 != 0 {
        broken.insert("FRACTION_OF_FEN");
    }
    let fen = i128::from(units) * 100 + i128::from(nanos) / 10_000_000;
    if fen < 0 {
        broken.insert("NEGATIVE_AMOUNT");
    }
    if fen == 0 {
        broken.insert("ZERO_AMOUNT");
    }
    if fen > MAX_FEN as i128 {
        broken.insert("AMOUNT_TOO_LARGE");
    }
    if broken.is_empty() {
        Ok(fen)
    } else {
        Err(broken)
    }
}

fn wire(currency: &str, units: i64, nanos: i32) {
    let result = Money::from_units_and_nanos(currency, units, nanos);
    match (wire_oracle(currency, units, nanos), result) {
        (Ok(fen), Ok(money)) => {
            assert_eq!(
                money.fen(),
                fen,
                "({currency:?}, {units}, {nanos}) read as {money:?}"
            );
            assert_eq!(
                money.units_and_nanos(),
                (units, nanos),
                "wire parts do not round-trip"
            );
            check_money(money);
        }
        (Ok(fen), Err(error)) => {
            panic!("({currency:?}, {units}, {nanos}) is {fen} fen but was refused: {error}")
        }
        (Err(broken), Ok(money)) => {
            panic!(
                "({currency:?}, {units}, {nanos}) breaks {broken:?} but was accepted as {money:?}"
            )
        }
        (Err(broken), Err(error)) => assert!(
            broken.contains(&error.reason.as_str()),
            "({currency:?}, {units}, {nanos}) breaks {broken:?}, refused as {}",
            error.reason.as_str()
        ),
    }
}

/// What `parse_yuan` promises: after trimming, digits with at most one inner decimal point,
/// commas only between groups of three digits of the whole part, a whole number of fen, more
/// than zero, at most the bound. Either the value in fen, or every rule the text breaks.
fn typed_oracle(text: &str) -> Result<u128, BTreeSet<&'static str>> {
    let trimmed = text.trim();
    if !commas_group_thousands(trimmed) {
        return Err(BTreeSet::from(["MALFORMED_AMOUNT"]));
    }
    let digits: String = trimmed.chars().filter(|c| *c != ',').collect();
    let well_formed = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
        && !digits.starts_with('.')
        && !digits.ends_with('.');
    if !well_formed {
        return Err(BTreeSet::from(["MALFORMED_AMOUNT"]));
    }
    let (integer, fraction) = digits.split_once('.').unwrap_or((&digits, ""));
    let integer = integer.trim_start_matches('0');
    let fraction = fraction.trim_end_matches('0');
    let mut broken = BTreeSet::new();
    if fraction.len() > 2 {
        broken.insert("FRACTION_OF_FEN");
    }
    let max_units = (MAX_FEN / 100).to_string();
    if integer.len() > max_units.len()
        || (integer.len() == max_units.len() && integer > max_units.as_str())
        || (integer == max_units && !fraction.is_empty())
    {
        broken.insert("AMOUNT_TOO_LARGE");
    }
    if integer.is_empty() && fraction.is_empty() {
        broken.insert("ZERO_AMOUNT");
    }
    if !broken.is_empty() {
        return Err(broken);
    }
    Ok(exact_fen(integer, fraction).expect("checked above"))
}

/// No comma, or `d{1,3}(,ddd)*` before the decimal point and none after it.
fn commas_group_thousands(text: &str) -> bool {
    if !text.contains(',') {
        return true;
    }
    let whole = text.split('.').next().unwrap_or("");
    let after_point = &text[whole.len()..];
    let mut groups = whole.split(',');
    let first_ok = groups.next().is_some_and(|first| (1..=3).contains(&first.len()));
    first_ok && groups.all(|group| group.len() == 3) && !after_point.contains(',')
}

fn typed(text: &str) {
    match (typed_oracle(text), Money::parse_yuan(text)) {
        (Ok(fen), Ok(money)) => {
            assert_eq!(money.fen() as u128, fen, "{text:?} read as {money:?}");
            check_money(money);
        }
        // More digits than a Decimal holds may be refused, never rounded.
        (Ok(_), Err(error)) if too_many_digits(text) && error.reason == "MALFORMED_AMOUNT" => {}
        (Ok(fen), Err(error)) => panic!("{text:?} is {fen} fen but was refused: {error}"),
        (Err(broken), Ok(money)) => {
            panic!("{text:?} breaks {broken:?} but was accepted as {money:?}")
        }
        (Err(broken), Err(error)) => {
            // A number too large or too long for the decimal type is refused as malformed.
            let overflow = (broken.contains("AMOUNT_TOO_LARGE") || too_many_digits(text))
                && error.reason == "MALFORMED_AMOUNT";
            assert!(
                broken.contains(&error.reason.as_str()) || overflow,
                "{text:?} breaks {broken:?}, refused as {}",
                error.reason.as_str()
            );
        }
    }
}

/// A `Decimal` holds 28 digits (29 for some values): a text with more may be refused.
fn too_many_digits(text: &str) -> bool {
    text.bytes().filter(u8::is_ascii_digit).count() > 28
}

//! Input as people type it (`domain::typed`): what the console and voucherctl read before the
//! strict parsers.
//!
//! Checks: nothing panics; an accepted amount is a Money that `parse_yuan` reads back from its
//! plain rendering, and typing that rendering (plain, grouped, with `¥`/`元`, or in 万 when it
//! is whole 万) gives the same amount; an accepted date formats to `YYYY-MM-DD`, which reads
//! back to the same day strictly; a text and its full-width form (ASCII shifted to
//! U+FF01–U+FF5E, spaces to U+3000) give the same answer for every reader; ids are
//! upper-case ASCII-normalised and idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voucher_ledger::domain::dates::parse_date;
use voucher_ledger::domain::money::Money;
use voucher_ledger::domain::typed::{
    amount_as_typed, credit_code_as_typed, date_as_typed, id_as_typed, normalise,
};

/// ASCII printable characters as their full-width forms, spaces as the ideographic space.
fn full_width(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '!'..='~' => char::from_u32(u32::from(character) + 0xFEE0).unwrap(),
            ' ' => '\u{3000}',
            other => other,
        })
        .collect()
}

fuzz_target!(|text: &str| {
    let wide = full_width(text);
    assert_eq!(normalise(&wide), normalise(text), "{text:?}");

    let amount = amount_as_typed(text);
    let wide_amount = amount_as_typed(&wide);
    assert_eq!(
        amount.as_ref().map_err(|error| error.reason),
        wide_amount.as_ref().map_err(|error| error.reason),
        "{text:?}"
    );
    if let Ok(money) = amount {
        let plain = money.to_string();
        assert_eq!(Money::parse_yuan(&plain), Ok(money), "{text:?}");
        for typed in [
            plain.clone(),
            money.to_grouped_string(),
            format!("¥{plain}"),
            format!("￥{}元", money.to_grouped_string()),
            full_width(&plain),
        ] {
            assert_eq!(amount_as_typed(&typed), Ok(money), "{typed:?} from {text:?}");
        }
        if money.fen() % 1_000_000 == 0 {
            let wan = format!("{}万", money.fen() / 1_000_000);
            assert_eq!(amount_as_typed(&wan), Ok(money), "{wan:?}");
        }
    }

    let date = date_as_typed(text);
    assert_eq!(
        date.as_ref().map_err(|error| error.reason),
        date_as_typed(&wide).as_ref().map_err(|error| error.reason),
        "{text:?}"
    );
    if let Ok(day) = date {
        let canonical = day.format("%Y-%m-%d").to_string();
        assert_eq!(parse_date(&canonical), Ok(day));
        assert_eq!(date_as_typed(&day.format("%Y年%-m月%-d日").to_string()), Ok(day));
        assert_eq!(date_as_typed(&day.format("%Y/%m/%d").to_string()), Ok(day));
    }

    let code = credit_code_as_typed(text);
    assert_eq!(code, credit_code_as_typed(&wide), "{text:?}");

    let id = id_as_typed(text);
    assert_eq!(id, id_as_typed(&wide), "{text:?}");
    assert_eq!(id_as_typed(&id), id);
    assert!(!id.chars().any(|character| character.is_ascii_lowercase()));
});

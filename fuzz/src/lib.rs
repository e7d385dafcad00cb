//! Oracles shared by the fuzz targets: small, independent re-statements of what each parser
//! promises, written without calling the code under test, so that a target can check the
//! parser's answer and not only that it did not panic.

use voucher_ledger::domain::money::Money;

/// The largest amount, in fen: 10,000,000,000.00 yuan.
pub const MAX_FEN: u128 = 10_000_000_000 * 100;

/// What an exact decimal `int[.frac]` (ASCII digits only) is worth in fen, if it is a whole
/// number of fen; `Err` says why not. Works on any length: no float, no fixed-width decimal.
pub fn exact_fen(integer: &str, fraction: &str) -> Result<u128, &'static str> {
    assert!(
        integer
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    );
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 2 {
        return Err("FRACTION_OF_FEN");
    }
    let integer = integer.trim_start_matches('0');
    // More than 11 significant integer digits is above 10,000,000,000 whatever they are.
    if integer.len() > 11 {
        return Err("AMOUNT_TOO_LARGE");
    }
    let units: u128 = if integer.is_empty() {
        0
    } else {
        integer.parse().expect("digits")
    };
    let mut fen_part: u128 = 0;
    for (index, digit) in fraction.bytes().enumerate() {
        fen_part += u128::from(digit - b'0') * if index == 0 { 10 } else { 1 };
    }
    let fen = units * 100 + fen_part;
    if fen > MAX_FEN {
        return Err("AMOUNT_TOO_LARGE");
    }
    Ok(fen)
}

/// Every property a [`Money`] must have, however it was made.
pub fn check_money(money: Money) {
    let fen = money.fen();
    assert!(fen >= 0, "negative money {money:?}");
    assert!(fen as u128 <= MAX_FEN, "money above the bound: {money:?}");
    let decimal = money.as_decimal();
    assert_eq!(decimal.scale(), 2, "money not at fen scale: {decimal}");
    assert_eq!(decimal.mantissa(), fen);

    // Display: plain yuan with exactly two decimals.
    let plain = money.to_string();
    assert_eq!(
        plain,
        format!("{}.{:02}", fen / 100, fen % 100),
        "Display of {money:?}"
    );

    // units_and_nanos: what goes on the wire.
    let (units, nanos) = money.units_and_nanos();
    assert_eq!(i128::from(units), fen / 100);
    assert_eq!(i128::from(nanos), (fen % 100) * 10_000_000);

    // Grouped: 1,234,567.89, with a comma every three digits and nowhere else.
    let grouped = money.to_grouped_string();
    let (whole, cents) = grouped
        .split_once('.')
        .expect("grouped has a decimal point");
    assert_eq!(cents.len(), 2, "grouped {grouped:?}");
    let groups: Vec<&str> = whole.split(',').collect();
    assert!(
        !groups[0].is_empty() && groups[0].len() <= 3,
        "grouped {grouped:?}"
    );
    assert!(
        groups[1..].iter().all(|g| g.len() == 3),
        "grouped {grouped:?}"
    );
    assert_eq!(
        grouped.replace(',', ""),
        plain,
        "grouped {grouped:?} vs plain {plain:?}"
    );

    if fen > 0 {
        // Both texts and the wire parts read back to the same amount.
        assert_eq!(
            Money::parse_yuan(&plain),
            Ok(money),
            "plain {plain:?} does not round-trip"
        );
        assert_eq!(
            Money::parse_yuan(&grouped),
            Ok(money),
            "{grouped:?} does not round-trip"
        );
        assert_eq!(
            Money::from_units_and_nanos("CNY", units, nanos),
            Ok(money),
            "({units}, {nanos}) does not round-trip"
        );
    }
}

/// GB 32100-2015's 31 characters, in the order of their values.
pub const CREDIT_CODE_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

pub fn credit_code_value(c: char) -> Option<u32> {
    CREDIT_CODE_ALPHABET.find(c).map(|index| index as u32)
}

/// The check character GB 32100-2015 gives to the first 17 characters (already in the
/// alphabet): C18 = 31 - (Σ Ci·Wi mod 31), 31 written as 0, with Wi = 3^(i-1) mod 31.
pub fn credit_code_check_char(first_17: &str) -> char {
    assert_eq!(first_17.chars().count(), 17);
    let mut weight = 1u32;
    let mut sum = 0u32;
    for c in first_17.chars() {
        sum += credit_code_value(c).expect("alphabet") * weight;
        weight = weight * 3 % 31;
    }
    let value = (31 - sum % 31) % 31;
    CREDIT_CODE_ALPHABET.as_bytes()[value as usize] as char
}

/// Days in a month of the proleptic Gregorian calendar.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

/// `Some((year, month, day))` exactly when `text` is `YYYY-MM-DD` in ASCII digits and a day of
/// the calendar.
pub fn expected_date(text: &str) -> Result<(i32, u32, u32), &'static str> {
    let b = text.as_bytes();
    let digit_at = |i: usize| b[i].is_ascii_digit();
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !(0..10).filter(|i| *i != 4 && *i != 7).all(digit_at)
    {
        return Err("MALFORMED_DATE");
    }
    let year: i32 = text[0..4].parse().expect("digits");
    let month: u32 = text[5..7].parse().expect("digits");
    let day: u32 = text[8..10].parse().expect("digits");
    if day == 0 || day > days_in_month(year, month) {
        return Err("IMPOSSIBLE_DATE");
    }
    Ok((year, month, day))
}

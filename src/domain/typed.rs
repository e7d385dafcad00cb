//! Input as people type it: what a clerk types into the console, or an operator into
//! voucherctl, read the way a person means it before the strict parsers see it.
//!
//! Full-width digits, letters and punctuation (U+FF01–U+FF5E, as a Chinese input method gives
//! them) read as their ASCII forms and the ideographic space as a space; amounts may carry `¥`,
//! `元`, thousands separators and `万` (×10,000, exact); dates may be written `2026/11/30` or
//! `2026年11月30日`; ids and credit codes are read in any case. The gRPC API stays strict: only
//! the console and voucherctl read input through here. Pure; no floats.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::credit_code::CreditCode;
use super::dates::parse_date;
use super::input::InputError;
use super::money::{Money, parse_plain_decimal};
use super::reason::ReasonCode;

/// Full-width ASCII (U+FF01–U+FF5E) as ASCII, the ideographic space (U+3000) as a space, the
/// full-width yen sign as `¥`; trimmed.
pub fn normalise(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '\u{FF01}'..='\u{FF5E}' => {
                char::from_u32(u32::from(character) - 0xFEE0).unwrap_or(character)
            }
            '\u{3000}' => ' ',
            '\u{FFE5}' => '¥',
            other => other,
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// An amount in yuan as typed: `12,345.67`, `¥12345.67`, `12345.67元`, `30万`, `1.5万元`,
/// full-width digits. Exact: a fraction of a fen is refused, never rounded.
pub fn amount_as_typed(text: &str) -> Result<Money, InputError> {
    let normal = normalise(text);
    let malformed = || {
        InputError::new(
            ReasonCode::MalformedAmount,
            format!(
                "{:?} is not an amount in yuan such as 1234.56, 1,234.56 or 30万",
                super::invoice::truncate_for_message(text)
            ),
        )
    };
    let mut rest = normal.as_str();
    rest = rest.strip_prefix('¥').unwrap_or(rest).trim_start();
    rest = rest.strip_suffix('元').unwrap_or(rest).trim_end();
    let (number, factor) = match rest.strip_suffix('万') {
        Some(number) => (number.trim_end(), Decimal::from(10_000)),
        None => (rest, Decimal::ONE),
    };
    let digits = ungrouped(number).ok_or_else(malformed)?;
    let value = parse_plain_decimal(&digits)
        .and_then(|value| value.checked_mul(factor))
        .ok_or_else(malformed)?;
    Money::positive_from_decimal(value)
}

/// `1,234,567.8` as `1234567.8`; `None` when the commas are not every three digits of the
/// whole part.
fn ungrouped(text: &str) -> Option<String> {
    if !text.contains(',') {
        return Some(text.to_owned());
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let groups: Vec<&str> = whole.split(',').collect();
    let grouped =
        (1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|group| group.len() == 3);
    if !grouped || fraction.is_some_and(|fraction| fraction.contains(',')) {
        return None;
    }
    Some(match fraction {
        Some(fraction) => format!("{}.{fraction}", groups.concat()),
        None => groups.concat(),
    })
}

/// A day as typed: `2026-11-30`, `2026/11/30`, `2026.11.30`, `2026年11月30日` (month and day
/// may have one digit), full-width digits.
pub fn date_as_typed(text: &str) -> Result<NaiveDate, InputError> {
    let normal = normalise(text);
    let malformed = || {
        InputError::new(
            ReasonCode::MalformedDate,
            format!(
                "date {:?} is not a day such as 2026-11-30, 2026/11/30 or 2026年11月30日",
                super::invoice::truncate_for_message(text)
            ),
        )
    };
    let body = match normal.strip_suffix('日') {
        Some(body) if body.contains('年') => body.replacen('年', "-", 1).replacen('月', "-", 1),
        Some(_) => return Err(malformed()),
        None if normal.contains('年') => return Err(malformed()),
        None => normal.replace(['/', '.'], "-"),
    };
    let parts: Vec<&str> = body.split('-').collect();
    let digits = |part: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&part.len()) && part.bytes().all(|byte| byte.is_ascii_digit())
    };
    match parts.as_slice() {
        [year, month, day] if digits(year, 4..=4) && digits(month, 1..=2) && digits(day, 1..=2) => {
            parse_date(&format!("{year}-{month:0>2}-{day:0>2}"))
        }
        _ => Err(malformed()),
    }
}

/// A credit code as typed: full-width characters, any case, spaces around.
pub fn credit_code_as_typed(text: &str) -> Result<CreditCode, InputError> {
    CreditCode::parse(&text_as_typed_code(text))
}

/// An id as typed (`v000000000001`, full-width): normalised and upper-cased, for the strict
/// parser of its kind to read.
pub fn id_as_typed(text: &str) -> String {
    text_as_typed_code(text)
}

/// Codes (ids, credit codes): normalised, spaces inside dropped, upper-cased.
fn text_as_typed_code(text: &str) -> String {
    normalise(text)
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(text: &str) -> String {
        amount_as_typed(text)
            .map_or_else(|error| error.reason.to_string(), |money| money.to_string())
    }

    #[test]
    fn full_width_reads_as_ascii() {
        assert_eq!(normalise("\u{3000}１２３，ＡＢｃ．\u{3000}"), "123,ABc.");
        assert_eq!(normalise("plain"), "plain");
    }

    #[test]
    fn amounts_as_people_type_them() {
        assert_eq!(yuan("30万"), "300000.00");
        assert_eq!(yuan("1.5万"), "15000.00");
        assert_eq!(yuan("1.5万元"), "15000.00");
        assert_eq!(yuan("12,345.67元"), "12345.67");
        assert_eq!(yuan("¥12,345.67"), "12345.67");
        assert_eq!(yuan("￥ 12345.67 元"), "12345.67");
        assert_eq!(yuan("１２，３４５．６７"), "12345.67");
        assert_eq!(yuan("３０万"), "300000.00");
        assert_eq!(yuan("0.000001万"), "0.01");
        assert_eq!(yuan("1,000万"), "10000000.00");
        assert_eq!(yuan("1000000万"), "10000000000.00");
        assert_eq!(yuan("1000001万"), "AMOUNT_TOO_LARGE");
        assert_eq!(yuan("0.0000001万"), "FRACTION_OF_FEN");
        assert_eq!(yuan("1.234"), "FRACTION_OF_FEN");
        assert_eq!(yuan("0万"), "ZERO_AMOUNT");
        for bad in [
            "", "万", "元", "¥", "1,23", "1万万", "-5", "1e3", "五万", "1.5.万", "万5",
        ] {
            assert_eq!(yuan(bad), "MALFORMED_AMOUNT", "{bad:?}");
        }
    }

    #[test]
    fn dates_as_people_type_them() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        for text in [
            "2026-11-30",
            "2026/11/30",
            "2026.11.30",
            "2026年11月30日",
            "２０２６年１１月３０日",
            "２０２６－１１－３０",
            " 2026/11/30 ",
        ] {
            assert_eq!(date_as_typed(text), Ok(day), "{text}");
        }
        assert_eq!(
            date_as_typed("2026年1月5日"),
            Ok(NaiveDate::from_ymd_opt(2026, 1, 5).unwrap())
        );
        assert_eq!(
            date_as_typed("2026/2/30").unwrap_err().reason,
            ReasonCode::ImpossibleDate
        );
        for bad in [
            "",
            "2026年11月30",
            "2026-11-30日",
            "26/11/30",
            "2026/11/30/1",
            "2026年11月",
        ] {
            assert_eq!(
                date_as_typed(bad).unwrap_err().reason,
                ReasonCode::MalformedDate,
                "{bad}"
            );
        }
    }

    #[test]
    fn codes_in_any_case_and_width() {
        assert_eq!(id_as_typed(" ｖ000000000001 "), "V000000000001");
        let code = credit_code_as_typed("９１３２０６８１ma1x8n2g5l").unwrap();
        assert_eq!(code.to_string(), "91320681MA1X8N2G5L");
    }
}

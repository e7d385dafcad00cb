//! An amount in Chinese capital numerals (大写金额), as a payment voucher writes it beside the
//! figures so that neither can be altered alone: 人民币叁拾伍万元整.
//!
//! The rules are the bank's for writing amounts (中国人民银行《支付结算办法》附件): digits
//! 零壹贰叁肆伍陆柒捌玖, units 拾佰仟万亿; ten is 壹拾 (never 拾 alone); a run of zeros inside
//! the amount is one 零, zeros at the end of a 万 or 亿 group are not written; an amount
//! ending in 元 or 角 ends with 整, one ending in 分 does not; 零 stands between 元 and 分 when
//! 角 is zero. A negative amount is what the provider owes back: 应退回 before it.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];

/// `amount` in capitals: `人民币叁拾伍万元整`, `人民币壹元零伍分`, `应退回人民币伍佰元整`.
/// Fractions of a fen are rounded half away from zero (no amount of the ledger has any).
pub fn capital_amount(amount: Decimal) -> String {
    let fen_total = (amount.abs() * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .to_u128()
        .unwrap_or(0);
    let (yuan, jiao, fen) = (
        fen_total / 100,
        (fen_total / 10 % 10) as usize,
        (fen_total % 10) as usize,
    );
    let mut words = String::new();
    if amount.is_sign_negative() && fen_total > 0 {
        words.push_str("应退回");
    }
    words.push_str("人民币");
    if fen_total == 0 {
        words.push_str("零元整");
        return words;
    }
    if yuan > 0 {
        words.push_str(&integer_words(yuan));
        words.push('元');
    }
    match (jiao, fen) {
        (0, 0) => words.push('整'),
        (jiao, 0) => {
            words.push(DIGITS[jiao]);
            words.push_str("角整");
        }
        (jiao, fen) => {
            if jiao > 0 {
                words.push(DIGITS[jiao]);
                words.push('角');
            } else if yuan > 0 {
                words.push('零');
            }
            words.push(DIGITS[fen]);
            words.push('分');
        }
    }
    words
}

/// A whole number above zero in capitals: 亿 and 万 split it, each part worded on its own,
/// with 零 where the lower part does not fill its places.
fn integer_words(number: u128) -> String {
    const YI: u128 = 100_000_000;
    const WAN: u128 = 10_000;
    let (high, low, unit, full) = if number >= YI {
        (number / YI, number % YI, '亿', YI / 10)
    } else if number >= WAN {
        (number / WAN, number % WAN, '万', WAN / 10)
    } else {
        return group_words(number);
    };
    let mut words = integer_words(high);
    words.push(unit);
    if low > 0 {
        if low < full {
            words.push('零');
        }
        words.push_str(&integer_words(low));
    }
    words
}

/// 1 to 9,999 in capitals: 壹仟零壹, 壹拾, 贰佰零伍.
fn group_words(number: u128) -> String {
    const UNITS: [&str; 4] = ["仟", "佰", "拾", ""];
    let digits = [
        number / 1000 % 10,
        number / 100 % 10,
        number / 10 % 10,
        number % 10,
    ];
    let mut words = String::new();
    let mut zero_pending = false;
    for (digit, unit) in digits.into_iter().zip(UNITS) {
        if digit == 0 {
            // A zero is written only between digits that are, and once for a run.
            zero_pending = !words.is_empty();
            continue;
        }
        if zero_pending {
            words.push('零');
            zero_pending = false;
        }
        words.push(DIGITS[digit as usize]);
        words.push_str(unit);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn capital(text: &str) -> String {
        capital_amount(Decimal::from_str(text).expect("a decimal"))
    }

    #[test]
    fn zero_is_zero_yuan() {
        assert_eq!(capital("0"), "人民币零元整");
        assert_eq!(capital("0.00"), "人民币零元整");
        assert_eq!(capital("-0.00"), "人民币零元整", "nothing owed back");
    }

    #[test]
    fn fen_and_jiao() {
        assert_eq!(capital("0.05"), "人民币伍分");
        assert_eq!(capital("0.50"), "人民币伍角整");
        assert_eq!(capital("0.35"), "人民币叁角伍分");
        assert_eq!(capital("1.05"), "人民币壹元零伍分");
        assert_eq!(capital("10.50"), "人民币壹拾元伍角整");
        assert_eq!(capital("1500.01"), "人民币壹仟伍佰元零壹分");
    }

    #[test]
    fn wan_and_yi() {
        assert_eq!(capital("350000"), "人民币叁拾伍万元整");
        assert_eq!(capital("10"), "人民币壹拾元整");
        assert_eq!(capital("100001"), "人民币壹拾万零壹元整");
        assert_eq!(capital("101000"), "人民币壹拾万壹仟元整");
        assert_eq!(capital("1001000"), "人民币壹佰万壹仟元整");
        assert_eq!(capital("1000100"), "人民币壹佰万零壹佰元整");
        assert_eq!(capital("100000000"), "人民币壹亿元整");
        assert_eq!(capital("100000001"), "人民币壹亿零壹元整");
        assert_eq!(capital("100100000"), "人民币壹亿零壹拾万元整");
        assert_eq!(capital("110000000"), "人民币壹亿壹仟万元整");
        assert_eq!(
            capital("1234567.89"),
            "人民币壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"
        );
        assert_eq!(
            capital("10000000000.00"),
            "人民币壹佰亿元整",
            "the largest amount the ledger holds"
        );
        assert_eq!(capital("2000000"), "人民币贰佰万元整");
    }

    #[test]
    fn a_negative_amount_is_owed_back() {
        assert_eq!(capital("-500"), "应退回人民币伍佰元整");
        assert_eq!(capital("-449.99"), "应退回人民币肆佰肆拾玖元玖角玖分");
    }
}

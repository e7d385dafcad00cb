//! Money: CNY exact to the fen, as `rust_decimal`, never a float.
//!
//! A [`Money`] can only hold a non-negative amount with at most two decimal places and at most
//! [`Money::MAX_YUAN`]; every constructor checks that, so code that holds one never re-checks.
//! Amounts that come from outside pass through [`Money::from_units_and_nanos`] (the wire's
//! `google.type.Money`) or [`Money::parse_yuan`] (a person typing `1234.56` or `1,234.56`).

use crate::domain::reason::ReasonCode;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::input::InputError;

/// The only currency this ledger accepts.
pub const CURRENCY_CNY: &str = "CNY";

const NANOS_PER_FEN: i32 = 10_000_000;
const NANOS_PER_YUAN: i32 = 1_000_000_000;
const FEN_SCALE: u32 = 2;

/// A non-negative amount of CNY, exact to the fen, at most [`Money::MAX_YUAN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Money(Decimal);

impl Money {
    /// The largest amount any input or total may hold: ten billion yuan. Every cap, budget and
    /// invoice of the policy is far below it; a value above it is a typing error.
    pub const MAX_YUAN: i64 = 10_000_000_000;

    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, FEN_SCALE));

    /// Builds from a decimal that must already be exact to the fen and within bounds.
    pub fn from_decimal(value: Decimal) -> Result<Money, InputError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(InputError::new(
                ReasonCode::NegativeAmount,
                "amount must not be negative",
            ));
        }
        let normalized = value.normalize();
        if normalized.scale() > FEN_SCALE {
            return Err(InputError::new(
                ReasonCode::FractionOfFen,
                format!("amount {value} has a fraction of a fen"),
            ));
        }
        if normalized > Decimal::from(Money::MAX_YUAN) {
            return Err(InputError::new(
                ReasonCode::AmountTooLarge,
                format!("amount {value} is over 10,000,000,000.00"),
            ));
        }
        let mut at_fen_scale = normalized;
        at_fen_scale.rescale(FEN_SCALE);
        Ok(Money(at_fen_scale))
    }

    /// Builds a strictly positive amount: what invoices and face values must be.
    pub fn positive_from_decimal(value: Decimal) -> Result<Money, InputError> {
        let money = Money::from_decimal(value)?;
        if money.is_zero() {
            return Err(InputError::new(
                ReasonCode::ZeroAmount,
                "amount must be more than zero",
            ));
        }
        Ok(money)
    }

    /// Builds from the parts of a `google.type.Money`, refusing any currency but CNY, any
    /// fraction of a fen, mixed signs, zero and negative amounts.
    pub fn from_units_and_nanos(
        currency_code: &str,
        units: i64,
        nanos: i32,
    ) -> Result<Money, InputError> {
        if currency_code != CURRENCY_CNY {
            return Err(InputError::new(
                ReasonCode::UnsupportedCurrency,
                format!("currency_code must be \"CNY\", not {currency_code:?}"),
            ));
        }
        if nanos <= -NANOS_PER_YUAN || nanos >= NANOS_PER_YUAN {
            return Err(InputError::new(
                ReasonCode::NanosOutOfRange,
                "nanos must be between -999,999,999 and 999,999,999",
            ));
        }
        if (units > 0 && nanos < 0) || (units < 0 && nanos > 0) {
            return Err(InputError::new(
                ReasonCode::MixedSigns,
                "units and nanos must have the same sign",
            ));
        }
        if nanos % NANOS_PER_FEN != 0 {
            return Err(InputError::new(
                ReasonCode::FractionOfFen,
                "nanos must be a multiple of 10,000,000 (whole fen)",
            ));
        }
        let fen = i128::from(units) * 100 + i128::from(nanos / NANOS_PER_FEN);
        Money::positive_from_decimal(Decimal::from_i128_with_scale(fen, FEN_SCALE))
    }

    /// Parses yuan as a person types them: `1234.56`, `1,234.56` or `1234`. Strictly positive.
    pub fn parse_yuan(text: &str) -> Result<Money, InputError> {
        let value = without_thousands_separators(text.trim())
            .and_then(|digits| parse_plain_decimal(&digits))
            .ok_or_else(|| {
                InputError::new(
                    ReasonCode::MalformedAmount,
                    format!(
                        "{:?} is not an amount in yuan such as 1234.56",
                        super::invoice::truncate_for_message(text)
                    ),
                )
            })?;
        Money::positive_from_decimal(value)
    }

    /// The whole yuan and the nanos of the fen part, for `google.type.Money`.
    pub fn units_and_nanos(self) -> (i64, i32) {
        let fen = self.fen();
        let units = i64::try_from(fen / 100).expect("Money is bounded by MAX_YUAN");
        let nanos = i32::try_from(fen % 100).expect("fen part is below 100") * NANOS_PER_FEN;
        (units, nanos)
    }

    /// The amount in fen.
    pub fn fen(self) -> i128 {
        let mantissa = self.0.mantissa();
        debug_assert_eq!(self.0.scale(), FEN_SCALE);
        mantissa
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// `self + other`, or `None` past [`Money::MAX_YUAN`].
    pub fn checked_add(self, other: Money) -> Option<Money> {
        Money::from_decimal(self.0.checked_add(other.0)?).ok()
    }

    /// `self - other`, or `None` when it would go below zero.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        if other > self {
            return None;
        }
        Money::from_decimal(self.0 - other.0).ok()
    }

    /// `self - other`, stopping at zero.
    pub fn saturating_sub(self, other: Money) -> Money {
        self.checked_sub(other).unwrap_or(Money::ZERO)
    }

    /// `rate × self`, rounded to the fen with `rounding`.
    pub fn times_rate(self, rate: Rate, rounding: Rounding) -> Money {
        let product = self.0 * rate.as_decimal();
        let rounded = product.round_dp_with_strategy(FEN_SCALE, rounding.strategy());
        Money::from_decimal(rounded).expect("a rate of at most 1 keeps the amount in bounds")
    }

    /// The amount with thousands separators: `1,234.56`.
    pub fn to_grouped_string(self) -> String {
        grouped_fen(self.fen())
    }
}

/// An amount in fen as yuan with thousands separators: `123456` → `1,234.56`.
fn grouped_fen(fen: i128) -> String {
    let digits = (fen / 100).to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped}.{:02}", fen % 100)
}

/// `1,234,567.89` → `1234567.89`; `None` when commas are anywhere but between groups of three
/// digits of the whole part (`1,,2` and `12,34` are typing errors, not 12 and 1234).
fn without_thousands_separators(text: &str) -> Option<String> {
    if !text.contains(',') {
        return Some(text.to_owned());
    }
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text, None), |(whole, fraction)| (whole, Some(fraction)));
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

/// Parses digits with at most one decimal point (`1234.5600`), exactly: no sign, exponent,
/// underscore or separator, and never rounded (a value with more digits than a `Decimal` holds
/// is refused, not cut short). `None` for anything else.
pub fn parse_plain_decimal(text: &str) -> Option<Decimal> {
    const LENGTH_MAX: usize = 40;
    let shaped = !text.is_empty()
        && text.len() <= LENGTH_MAX
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.')
        && text.matches('.').count() <= 1
        && !text.starts_with('.')
        && !text.ends_with('.');
    if !shaped {
        return None;
    }
    Decimal::from_str_exact(text).ok()
}

impl Default for Money {
    fn default() -> Money {
        Money::ZERO
    }
}

impl fmt::Display for Money {
    /// Plain yuan with two decimals, `1234.56`: what machines and CSV want.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

impl TryFrom<Decimal> for Money {
    type Error = InputError;
    fn try_from(value: Decimal) -> Result<Money, InputError> {
        Money::from_decimal(value)
    }
}

impl From<Money> for Decimal {
    fn from(money: Money) -> Decimal {
        money.0
    }
}

/// A sum of many amounts, such as everything a program committed across every enterprise:
/// exact to the fen and never negative, like [`Money`], but not bound by
/// [`Money::MAX_YUAN`], since a program may commit more than any single amount may be (5,001
/// enterprises at a 2,000,000.00 cap pass ten billion). A `Decimal` holds 28 digits, far more
/// than any sum of this ledger can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Total(Decimal);

/// Zero at the fen's scale, like every other total: a default written as `0` would read back
/// as `0.00`, and a record loaded from the store would then be written differently from the
/// same record replayed (the crash test's verify caught exactly that).
impl Default for Total {
    fn default() -> Total {
        Total::ZERO
    }
}

impl Total {
    pub const ZERO: Total = Total(Decimal::from_parts(0, 0, 0, false, FEN_SCALE));

    /// `self + amount`. Cannot fail: 28 digits hold any sum of bounded amounts this ledger makes.
    pub fn plus(self, amount: Money) -> Total {
        let mut sum = self
            .0
            .checked_add(amount.as_decimal())
            .expect("a total of bounded amounts fits 28 digits");
        sum.rescale(FEN_SCALE);
        Total(sum)
    }

    /// `self + other`, as [`Total::plus`].
    pub fn plus_total(self, other: Total) -> Total {
        let mut sum = self
            .0
            .checked_add(other.0)
            .expect("a total of bounded amounts fits 28 digits");
        sum.rescale(FEN_SCALE);
        Total(sum)
    }

    /// `self - amount`, or `None` below zero.
    pub fn minus(self, amount: Money) -> Option<Total> {
        let difference = self.0.checked_sub(amount.as_decimal())?;
        if difference.is_sign_negative() && !difference.is_zero() {
            return None;
        }
        let mut difference = difference;
        difference.rescale(FEN_SCALE);
        Some(Total(difference))
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }

    /// `12,345,678,901.23`.
    pub fn to_grouped_string(self) -> String {
        grouped_fen(self.0.mantissa())
    }

    /// A total from the parts of a `google.type.Money` as this ledger writes them: CNY, whole
    /// fen, not negative. For clients reading totals that may pass [`Money::MAX_YUAN`].
    pub fn from_units_and_nanos(currency_code: &str, units: i64, nanos: i32) -> Option<Total> {
        let whole_fen =
            nanos % NANOS_PER_FEN == 0 && (0..NANOS_PER_YUAN).contains(&nanos) && units >= 0;
        if currency_code != CURRENCY_CNY || !whole_fen {
            return None;
        }
        let fen = i128::from(units) * 100 + i128::from(nanos / NANOS_PER_FEN);
        Total::try_from(Decimal::from_i128_with_scale(fen, FEN_SCALE)).ok()
    }

    /// Whole yuan and the nanos of the fen, for `google.type.Money`; `None` past what an `i64`
    /// of yuan holds (no sum of this ledger gets there).
    pub fn units_and_nanos(self) -> Option<(i64, i32)> {
        let fen = self.0.mantissa();
        let units = i64::try_from(fen / 100).ok()?;
        let nanos = i32::try_from(fen % 100).ok()? * NANOS_PER_FEN;
        Some((units, nanos))
    }
}

impl From<Money> for Total {
    fn from(amount: Money) -> Total {
        Total(amount.as_decimal())
    }
}

impl TryFrom<Decimal> for Total {
    type Error = InputError;
    fn try_from(value: Decimal) -> Result<Total, InputError> {
        let normalized = value.normalize();
        if normalized.is_sign_negative() && !normalized.is_zero() {
            return Err(InputError::new(
                ReasonCode::NegativeAmount,
                "a total must not be negative",
            ));
        }
        if normalized.scale() > FEN_SCALE {
            return Err(InputError::new(
                ReasonCode::FractionOfFen,
                format!("total {value} has a fraction of a fen"),
            ));
        }
        let mut at_fen_scale = normalized;
        at_fen_scale.rescale(FEN_SCALE);
        Ok(Total(at_fen_scale))
    }
}

impl From<Total> for Decimal {
    fn from(total: Total) -> Decimal {
        total.0
    }
}

impl fmt::Display for Total {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// A subsidy rate: a fraction in (0, 1], such as 0.50 for 算力券.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Rate(Decimal);

impl Rate {
    pub fn new(value: Decimal) -> Result<Rate, InputError> {
        if value <= Decimal::ZERO || value > Decimal::ONE {
            return Err(InputError::new(
                ReasonCode::RateOutOfRange,
                format!("rate {value} must be more than 0 and at most 1"),
            ));
        }
        Ok(Rate(value.normalize()))
    }

    pub fn as_decimal(self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for Rate {
    type Error = InputError;
    fn try_from(value: Decimal) -> Result<Rate, InputError> {
        Rate::new(value)
    }
}

impl From<Rate> for Decimal {
    fn from(rate: Rate) -> Decimal {
        rate.0
    }
}

/// How a subsidy is rounded to the fen. The policy default is half up (四舍五入).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// 四舍五入: 0.005 becomes 0.01.
    HalfUp,
    /// Banker's rounding: 0.005 becomes 0.00, 0.015 becomes 0.02.
    HalfEven,
    /// Truncation: never pays a fraction of a fen more than the rate gives.
    Down,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::Down => RoundingStrategy::ToZero,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn yuan(text: &str) -> Money {
        Money::parse_yuan(text).expect("valid amount")
    }

    #[test]
    fn wire_amounts_are_exact_to_the_fen() {
        let money = Money::from_units_and_nanos("CNY", 1234, 560_000_000).expect("valid");
        assert_eq!(money, yuan("1234.56"));
        assert_eq!(money.units_and_nanos(), (1234, 560_000_000));
        assert_eq!(money.fen(), 123_456);
    }

    #[test]
    fn wire_amounts_that_are_not_whole_fen_or_not_cny_are_refused() {
        let reason = |currency: &str, units, nanos| {
            Money::from_units_and_nanos(currency, units, nanos).map_err(|error| error.reason)
        };
        assert_eq!(reason("CNY", 1, 5_000_000), Err(ReasonCode::FractionOfFen));
        assert_eq!(reason("USD", 1, 0), Err(ReasonCode::UnsupportedCurrency));
        assert_eq!(reason("", 1, 0), Err(ReasonCode::UnsupportedCurrency));
        assert_eq!(reason("CNY", 0, 0), Err(ReasonCode::ZeroAmount));
        assert_eq!(reason("CNY", -1, 0), Err(ReasonCode::NegativeAmount));
        assert_eq!(
            reason("CNY", 0, -10_000_000),
            Err(ReasonCode::NegativeAmount)
        );
        assert_eq!(reason("CNY", 1, -10_000_000), Err(ReasonCode::MixedSigns));
        assert_eq!(
            reason("CNY", 1, 1_000_000_000),
            Err(ReasonCode::NanosOutOfRange)
        );
        assert_eq!(
            reason("CNY", 10_000_000_000, 0).map(Money::fen),
            Ok(1_000_000_000_000)
        );
        assert_eq!(
            reason("CNY", 10_000_000_000, 10_000_000),
            Err(ReasonCode::AmountTooLarge)
        );
        assert_eq!(
            reason("CNY", i64::MAX, 990_000_000),
            Err(ReasonCode::AmountTooLarge)
        );
    }

    #[test]
    fn typed_amounts_accept_separators_and_refuse_junk() {
        assert_eq!(yuan("1,234.5"), yuan("1234.50"));
        assert_eq!(yuan("12,345,678.90"), yuan("12345678.9"));
        for misplaced in ["1,,2", "12,34", ",123", "1234,567", "1,234.5,6", "1,234,"] {
            assert!(
                Money::parse_yuan(misplaced).is_err(),
                "{misplaced:?} should be refused"
            );
        }
        assert_eq!(yuan("7"), yuan("7.00"));
        for junk in [
            "", "1.2.3", "-5", "1e3", "abc", ".5", "5.", "1.001", "0", "0.00",
        ] {
            assert!(
                Money::parse_yuan(junk).is_err(),
                "{junk:?} should be refused"
            );
        }
    }

    #[test]
    fn digits_past_what_a_decimal_holds_are_refused_not_rounded_away() {
        // Found by the `money` fuzz target: these used to parse as 1.00 and 10030.00.
        assert!(Money::parse_yuan(&format!("1.{}1", "0".repeat(30))).is_err());
        assert!(Money::parse_yuan(&format!("10030.{}400", "0".repeat(28))).is_err());
        assert!(Money::parse_yuan(&format!("10000000000.{}1", "0".repeat(20))).is_err());
        assert_eq!(
            Money::parse_yuan("1.000000"),
            Money::parse_yuan("1.00"),
            "trailing zeros are exact"
        );
        assert_eq!(parse_plain_decimal("0.50000000000000000000000000001"), None);
        assert!(
            parse_plain_decimal("0.5000000000000000000000000001").is_some(),
            "28 places are exact"
        );
    }

    #[test]
    fn subsidy_rounds_half_up_to_the_fen() {
        let half = Rate::new(dec!(0.50)).expect("rate");
        let fifth = Rate::new(dec!(0.20)).expect("rate");
        assert_eq!(
            yuan("0.01").times_rate(half, Rounding::HalfUp),
            yuan("0.01")
        );
        assert_eq!(
            yuan("0.03").times_rate(fifth, Rounding::HalfUp),
            yuan("0.01")
        );
        assert!(yuan("0.01").times_rate(fifth, Rounding::HalfUp).is_zero());
        assert_eq!(
            yuan("0.01").times_rate(half, Rounding::HalfEven),
            Money::ZERO
        );
        assert_eq!(
            yuan("0.03").times_rate(half, Rounding::HalfEven),
            yuan("0.02")
        );
        assert_eq!(yuan("0.03").times_rate(half, Rounding::Down), yuan("0.01"));
        assert_eq!(
            yuan("4000000").times_rate(half, Rounding::HalfUp),
            yuan("2000000")
        );
    }

    #[test]
    fn grouped_display_uses_thousands_separators() {
        assert_eq!(yuan("1234.56").to_grouped_string(), "1,234.56");
        assert_eq!(yuan("2000000").to_grouped_string(), "2,000,000.00");
        assert_eq!(yuan("999").to_grouped_string(), "999.00");
        assert_eq!(Money::ZERO.to_grouped_string(), "0.00");
        assert_eq!(yuan("0.05").to_string(), "0.05");
    }

    #[test]
    fn arithmetic_never_goes_below_zero_or_past_the_bound() {
        assert_eq!(yuan("5").checked_sub(yuan("5.01")), None);
        assert_eq!(yuan("5").saturating_sub(yuan("6")), Money::ZERO);
        assert_eq!(yuan("10000000000").checked_add(yuan("0.01")), None);
        assert_eq!(yuan("0.01").checked_add(yuan("0.02")), Some(yuan("0.03")));
    }

    #[test]
    fn totals_pass_the_bound_of_a_single_amount_and_stay_exact() {
        let cap = yuan("2000000");
        let mut total = Total::ZERO;
        for _ in 0..5001 {
            total = total.plus(cap);
        }
        assert_eq!(total.to_string(), "10002000000.00");
        assert_eq!(
            total.minus(yuan("0.01")).map(|t| t.to_string()),
            Some("10001999999.99".to_owned())
        );
        assert_eq!(Total::ZERO.minus(yuan("0.01")), None);
        assert_eq!(total.units_and_nanos(), Some((10_002_000_000, 0)));
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert!(Rate::new(dec!(0)).is_err());
        assert!(Rate::new(dec!(1.01)).is_err());
        assert!(Rate::new(dec!(-0.5)).is_err());
        assert!(Rate::new(dec!(1)).is_ok());
    }

    #[test]
    fn money_round_trips_through_json_as_a_string() {
        let json = serde_json::to_string(&yuan("12.3")).expect("serialize");
        assert_eq!(json, "\"12.30\"");
        let back: Money = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, yuan("12.30"));
        assert!(serde_json::from_str::<Money>("\"0.001\"").is_err());
    }
}

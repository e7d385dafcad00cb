//! The model's own plain values: money in whole fen (`Fen`, printed as yuan), periods of days,
//! moving a day, and the text of ids and invoice numbers as the engine shows them.

use std::fmt;

use chrono::{NaiveDate, TimeDelta};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use voucher_ledger::domain::money::{Money, Total};

/// An amount in fen, printed as yuan.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Fen(pub i64);

impl Fen {
    /// The model's own reading of the test's amounts, such as "0.03" or "1000".
    pub fn parse(text: &str) -> Fen {
        let (units, cents) = text.split_once('.').unwrap_or((text, "00"));
        assert_eq!(cents.len(), 2, "amounts in the tables have two decimals");
        let units: i64 = units.parse().expect("whole yuan in the table");
        let cents: i64 = cents.parse().expect("fen in the table");
        Fen(units * 100 + cents)
    }

    pub fn of(money: Money) -> Fen {
        Fen(i64::try_from(money.fen()).expect("amounts are bounded"))
    }

    /// A sum, or a difference of sums (a statement's net), which is whole fen.
    pub fn of_decimal(value: Decimal) -> Fen {
        let fen = value * Decimal::from(100);
        assert!(fen.fract().is_zero(), "{value} is not whole fen");
        Fen(fen.to_i64().expect("sums are bounded"))
    }

    pub fn of_total(total: Total) -> Fen {
        Fen::of_decimal(total.as_decimal())
    }

    pub fn plus(self, other: Fen) -> Fen {
        Fen(self.0 + other.0)
    }

    pub fn minus(self, other: Fen) -> Fen {
        Fen(self.0 - other.0)
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let fen = self.0.unsigned_abs();
        write!(formatter, "{sign}{}.{:02}", fen / 100, fen % 100)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Period {
    pub fn contains(self, day: NaiveDate) -> bool {
        self.first <= day && day <= self.last
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}..{}", self.first, self.last)
    }
}

pub fn shift(day: NaiveDate, days: i64) -> NaiveDate {
    day + TimeDelta::days(days)
}

pub fn voucher_id_text(number: u64) -> String {
    format!("V{number:012}")
}

pub fn redemption_id_text(number: u64) -> String {
    format!("R{number:012}")
}

pub fn settlement_id_text(number: u64) -> String {
    format!("S{number:012}")
}

pub fn application_id_text(number: u64) -> String {
    format!("A{number:012}")
}

/// The contract an application names, and its SHA-256 (a hex digit repeated).
pub fn contract_number_text(serial: u8) -> String {
    format!("HT-2027-{serial:03}")
}

pub fn contract_sha256(serial: u8) -> String {
    char::from_digit(u32::from(serial % 16), 16)
        .expect("a hex digit")
        .to_string()
        .repeat(64)
}

pub fn invoice_number_text(serial: u8) -> String {
    format!("2432200000000000{serial:04}")
}

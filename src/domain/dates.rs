//! Dates as the policy reads them: calendar days in China time (UTC+8), written `YYYY-MM-DD`.
//!
//! The domain never reads a clock. Whoever calls it passes a [`Clock`] with the instant and the
//! date the rules should see (the date can be pinned for tests and drills).

use crate::domain::reason::ReasonCode;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use super::input::InputError;

const CHINA_OFFSET_SECONDS: i32 = 8 * 3600;

/// UTC+8, the offset of Asia/Shanghai (China keeps no daylight saving time).
pub fn china_offset() -> FixedOffset {
    FixedOffset::east_opt(CHINA_OFFSET_SECONDS).expect("8 hours is a valid offset")
}

/// What time it is for the rules: the instant stamped on records, and the calendar day that
/// decides expiry and which invoices are in the future.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub now: DateTime<FixedOffset>,
    pub today: NaiveDate,
}

impl Clock {
    /// A clock whose day is the China-time date of `now`.
    pub fn at(now: DateTime<FixedOffset>) -> Clock {
        let in_china = now.with_timezone(&china_offset());
        Clock {
            now: in_china,
            today: in_china.date_naive(),
        }
    }

    /// A clock whose day is pinned, whatever the instant.
    pub fn pinned(now: DateTime<FixedOffset>, today: NaiveDate) -> Clock {
        Clock {
            now: now.with_timezone(&china_offset()),
            today,
        }
    }
}

/// Parses exactly `YYYY-MM-DD`, refusing other shapes and days that do not exist.
pub fn parse_date(text: &str) -> Result<NaiveDate, InputError> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit());
    if !shaped {
        return Err(InputError::new(
            ReasonCode::MalformedDate,
            format!(
                "date {:?} is not YYYY-MM-DD",
                super::invoice::truncate_for_message(text)
            ),
        ));
    }
    let number = |range: std::ops::Range<usize>| -> u32 {
        text[range].parse().expect("digits checked above")
    };
    let year = i32::try_from(number(0..4)).expect("four digits fit");
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10)).ok_or_else(|| {
        InputError::new(
            ReasonCode::ImpossibleDate,
            format!("{text} is not a day of the calendar"),
        )
    })
}

/// An inclusive range of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DateRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl DateRange {
    pub fn new(first: NaiveDate, last: NaiveDate) -> DateRange {
        assert!(first <= last, "a date range must not end before it starts");
        DateRange { first, last }
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.first <= date && date <= self.last
    }

    pub fn contains_range(&self, other: DateRange) -> bool {
        self.contains(other.first) && self.contains(other.last)
    }

    /// The calendar year holding `date`, clipped to this range, if they overlap.
    pub fn calendar_year_within(&self, date: NaiveDate) -> Option<DateRange> {
        if !self.contains(date) {
            return None;
        }
        let january_first = NaiveDate::from_ymd_opt(date.year(), 1, 1)?;
        let december_last = NaiveDate::from_ymd_opt(date.year(), 12, 31)?;
        Some(DateRange::new(
            january_first.max(self.first),
            december_last.min(self.last),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        parse_date(text).expect("valid date")
    }

    #[test]
    fn only_real_days_in_the_exact_shape_parse() {
        assert_eq!(
            day("2028-02-29"),
            NaiveDate::from_ymd_opt(2028, 2, 29).expect("leap day")
        );
        let reason = |text| parse_date(text).map_err(|error| error.reason);
        assert_eq!(reason("2027-02-29"), Err(ReasonCode::ImpossibleDate));
        assert_eq!(reason("2027-13-01"), Err(ReasonCode::ImpossibleDate));
        assert_eq!(reason("2027-04-31"), Err(ReasonCode::ImpossibleDate));
        for text in [
            "2027-1-01",
            "20270101",
            "2027/01/01",
            "2027-01-01T00:00",
            "",
            "+202-01-01",
            "２０２７-01-01",
        ] {
            assert_eq!(reason(text), Err(ReasonCode::MalformedDate), "{text}");
        }
    }

    #[test]
    fn the_china_date_turns_at_sixteen_hundred_utc() {
        let before = DateTime::parse_from_rfc3339("2027-12-31T15:59:59Z").expect("instant");
        let after = DateTime::parse_from_rfc3339("2027-12-31T16:00:00Z").expect("instant");
        assert_eq!(Clock::at(before).today, day("2027-12-31"));
        assert_eq!(Clock::at(after).today, day("2028-01-01"));
    }

    #[test]
    fn calendar_years_are_clipped_to_the_range() {
        let term = DateRange::new(day("2026-05-14"), day("2028-05-13"));
        assert_eq!(
            term.calendar_year_within(day("2026-06-01")),
            Some(DateRange::new(day("2026-05-14"), day("2026-12-31")))
        );
        assert_eq!(
            term.calendar_year_within(day("2027-06-01")),
            Some(DateRange::new(day("2027-01-01"), day("2027-12-31")))
        );
        assert_eq!(
            term.calendar_year_within(day("2028-01-01")),
            Some(DateRange::new(day("2028-01-01"), day("2028-05-13")))
        );
        assert_eq!(term.calendar_year_within(day("2026-05-13")), None);
    }
}

//! Dates from outside: `parse_date` (`YYYY-MM-DD`, China time days).
//!
//! Checks: it succeeds exactly when the text is `YYYY-MM-DD` in ASCII digits and a day of the
//! proleptic Gregorian calendar (an independent leap-year rule); the date has that year, month
//! and day and formats back (`%Y-%m-%d`) to the same text; a refusal is MALFORMED_DATE for a
//! wrong shape and IMPOSSIBLE_DATE for a right shape that is no day. Two dates that parse
//! also make a `DateRange` whose calendar-year clipping stays inside it.
#![no_main]

use chrono::Datelike;
use libfuzzer_sys::fuzz_target;
use voucher_ledger::domain::dates::{DateRange, parse_date};
use voucher_ledger_fuzz::expected_date;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    // `YYYY-MM-DD YYYY-MM-DD`: a range as well.
    if let (Some(a), Some(b)) = (text.get(..10), text.get(11..))
        && let (Some(a), Some(b)) = (check(a), check(b))
    {
        let range = DateRange::new(a.min(b), a.max(b));
        for day in [a, b] {
            assert!(range.contains(day));
            let year = range.calendar_year_within(day).expect("inside the range");
            assert!(range.contains_range(year), "{year:?} outside {range:?}");
            assert!(year.contains(day));
            assert_eq!(year.first.year(), day.year());
            assert_eq!(year.last.year(), day.year());
        }
    }
});

fn check(text: &str) -> Option<chrono::NaiveDate> {
    let parsed = parse_date(text);
    match (expected_date(text), parsed) {
        (Ok((year, month, day)), Ok(date)) => {
            assert_eq!(
                (date.year(), date.month(), date.day()),
                (year, month, day),
                "{text:?}"
            );
            assert_eq!(
                date.format("%Y-%m-%d").to_string(),
                text,
                "{text:?} formats back differently"
            );
            Some(date)
        }
        (Ok(expected), Err(error)) => panic!("{text:?} is {expected:?} but was refused: {error}"),
        (Err(why), Ok(date)) => panic!("{text:?} should be refused ({why}) but is {date}"),
        (Err(why), Err(error)) => {
            assert_eq!(error.reason, why, "{text:?}: {error}");
            None
        }
    }
}

//! The one place that reads the wall clock. The date the rules see can be pinned
//! (`voucherd --today`), for tests and drills; the instant stamped on records stays real.

use chrono::{NaiveDate, Utc};

use crate::domain::dates::Clock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSource {
    pinned_today: Option<NaiveDate>,
}

impl ClockSource {
    pub fn system() -> ClockSource {
        ClockSource { pinned_today: None }
    }

    pub fn pinned(today: NaiveDate) -> ClockSource {
        ClockSource {
            pinned_today: Some(today),
        }
    }

    pub fn pinned_today(&self) -> Option<NaiveDate> {
        self.pinned_today
    }

    pub fn now(&self) -> Clock {
        let now = Utc::now().fixed_offset();
        match self.pinned_today {
            Some(today) => Clock::pinned(now, today),
            None => Clock::at(now),
        }
    }
}

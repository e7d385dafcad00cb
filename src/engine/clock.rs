//! The one place that reads the wall clock. The date the rules see can be pinned
//! (`voucherd --today`), for tests and drills; the instant stamped on records stays real.
//! A pinned date can be moved ([`ClockSource::set_today`]), which is how tests let time pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use chrono::{Datelike, NaiveDate, Utc};

use crate::domain::dates::Clock;

#[derive(Clone, Debug)]
pub struct ClockSource {
    /// Days since 0001-01-01 of the pinned date, shared by every clone.
    pinned_day: Option<Arc<AtomicI32>>,
}

impl ClockSource {
    pub fn system() -> ClockSource {
        ClockSource { pinned_day: None }
    }

    pub fn pinned(today: NaiveDate) -> ClockSource {
        ClockSource {
            pinned_day: Some(Arc::new(AtomicI32::new(today.num_days_from_ce()))),
        }
    }

    pub fn pinned_today(&self) -> Option<NaiveDate> {
        let day = self.pinned_day.as_ref()?.load(Ordering::SeqCst);
        NaiveDate::from_num_days_from_ce_opt(day)
    }

    /// Moves a pinned date (every clone sees it). Returns false, changing nothing, for the
    /// system clock.
    pub fn set_today(&self, today: NaiveDate) -> bool {
        match &self.pinned_day {
            Some(day) => {
                day.store(today.num_days_from_ce(), Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    pub fn now(&self) -> Clock {
        let now = Utc::now().fixed_offset();
        match self.pinned_today() {
            Some(today) => Clock::pinned(now, today),
            None => Clock::at(now),
        }
    }
}

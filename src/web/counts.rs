//! The counts beside the navigation's entries: for the bureau, the applications waiting for
//! it, the claims waiting for its review and those waiting for their enterprise's
//! confirmation; for an enterprise, its own.
//!
//! The store keeps no count of any, so they are counted by reading: applications by their
//! status, claims by theirs (an enterprise's through its own index; one pass over the
//! accepted claims gives both claim counts). A count reads at most
//! [`COUNT_PAGES_MAX`] pages and then says "at least" ([`Count::more`]). The bureau's counts
//! are kept while the ledger's head does not move; a count that took long to make
//! ([`SLOW_COUNT`]) is kept for up to [`SLOW_COUNT_KEPT`] even while it moves, so a busy ledger
//! does not recount on every page.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::ids::{ApplicationId, RedemptionId};
use crate::domain::input::InputError;
use crate::domain::model::{Actor, ApplicationStatus, Redemption, RedemptionStatus};
use crate::domain::policy::{EnterpriseConfirmation, Policy};
use crate::engine::{EngineError, Reader, RedemptionFilter};

/// Records read for one page of a count.
const COUNT_PAGE: usize = 1000;
/// Pages one count reads at most.
pub const COUNT_PAGES_MAX: usize = 200;
/// A count that took this long to make is not made again at once.
pub const SLOW_COUNT: Duration = Duration::from_millis(100);
/// How long such a count is kept while the ledger changes.
pub const SLOW_COUNT_KEPT: Duration = Duration::from_secs(5);

/// How many, and whether there may be more than were counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    pub counted: usize,
    pub more: bool,
}

impl fmt::Display for Count {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.more {
            write!(formatter, "{}+", self.counted)
        } else {
            write!(formatter, "{}", self.counted)
        }
    }
}

/// What the navigation shows beside its entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NavCounts {
    /// Applications waiting for the bureau (an enterprise's own, for an enterprise).
    pub pending_applications: Count,
    /// Claims waiting for their enterprise's confirmation; `None` when no program of the
    /// policy asks for it.
    pub awaiting_confirmation: Option<Count>,
    /// Accepted claims the bureau may decide now (待审核): those still waiting for their
    /// enterprise are left out, since approving them is refused until it confirms.
    pub pending_review: Count,
}

/// The bureau's counts, kept with the head they were counted at.
#[derive(Default)]
pub struct CountCache {
    kept: Mutex<Option<Kept>>,
}

#[derive(Clone, Copy)]
struct Kept {
    head: u64,
    made: Instant,
    took: Duration,
    counts: NavCounts,
}

impl CountCache {
    /// The bureau's counts: those kept, while they still hold, or counted again.
    pub fn bureau_counts(&self, reader: &Reader) -> Result<NavCounts, EngineError> {
        let head = reader.head_sequence()?;
        let kept = *self.lock();
        if let Some(kept) = kept {
            let slow_and_recent = kept.took >= SLOW_COUNT && kept.made.elapsed() < SLOW_COUNT_KEPT;
            if kept.head == head || slow_and_recent {
                return Ok(kept.counts);
            }
        }
        let started = Instant::now();
        let counts = nav_counts(reader, Actor::Bureau)?;
        *self.lock() = Some(Kept {
            head,
            made: Instant::now(),
            took: started.elapsed(),
            counts,
        });
        Ok(counts)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Kept>> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The counts as `actor` sees them: every enterprise's for the bureau and auditors, its own
/// for an enterprise (the reader pins its filters to itself).
pub fn nav_counts(reader: &Reader, actor: Actor) -> Result<NavCounts, EngineError> {
    let pending_applications = count_pages(ApplicationId::parse, |after| {
        let page = reader.list_applications(
            None,
            Some(ApplicationStatus::Pending),
            actor,
            after,
            COUNT_PAGE,
        )?;
        Ok((page.items.len(), page.next_after))
    })?;
    let (pending_review, awaiting) = count_accepted(reader, actor)?;
    let awaiting_confirmation = confirmation_asked(reader.policy()).then_some(awaiting);
    Ok(NavCounts {
        pending_applications,
        awaiting_confirmation,
        pending_review,
    })
}

/// Whether some program of the policy has claims confirmed by their enterprise.
pub fn confirmation_asked(policy: &Policy) -> bool {
    policy
        .programs()
        .iter()
        .any(|rules| rules.enterprise_confirmation == EnterpriseConfirmation::Required)
}

/// Whether `claim` waits for its enterprise: accepted, not confirmed, under a program that
/// asks for confirmation before the bureau may approve.
pub fn awaits_confirmation(policy: &Policy, claim: &Redemption) -> bool {
    claim.status == RedemptionStatus::Accepted
        && claim.confirmed_at.is_none()
        && policy
            .program(claim.program)
            .is_ok_and(|rules| rules.enterprise_confirmation == EnterpriseConfirmation::Required)
}

/// The accepted claims in one pass: those the bureau may review now, and those waiting for
/// their enterprise's confirmation. Both read the same pages, so each says "at least" when
/// the pass was cut short.
fn count_accepted(reader: &Reader, actor: Actor) -> Result<(Count, Count), EngineError> {
    let filter = RedemptionFilter {
        status: Some(RedemptionStatus::Accepted),
        ..RedemptionFilter::default()
    };
    let mut waiting = 0;
    let accepted = count_pages(RedemptionId::parse, |after| {
        let page = reader.list_redemptions(filter, actor, after, COUNT_PAGE)?;
        let waiting_here = page
            .items
            .iter()
            .filter(|claim| awaits_confirmation(reader.policy(), claim))
            .count();
        waiting += waiting_here;
        Ok((page.items.len(), page.next_after))
    })?;
    let pending_review = Count {
        counted: accepted.counted - waiting,
        more: accepted.more,
    };
    let awaiting = Count {
        counted: waiting,
        more: accepted.more,
    };
    Ok((pending_review, awaiting))
}

/// Adds up what each page counts, reading the next after the token each gives, for at most
/// [`COUNT_PAGES_MAX`] pages.
fn count_pages<Id>(
    parse: impl Fn(&str) -> Result<Id, InputError>,
    mut read: impl FnMut(Option<Id>) -> Result<(usize, Option<String>), EngineError>,
) -> Result<Count, EngineError> {
    let mut counted = 0;
    let mut after = None;
    for _ in 0..COUNT_PAGES_MAX {
        let (on_page, next) = read(after)?;
        counted += on_page;
        match next.map(|token| parse(&token)) {
            None => {
                return Ok(Count {
                    counted,
                    more: false,
                });
            }
            Some(Ok(next)) => after = Some(next),
            // A token the store wrote always parses; if one does not, say "at least".
            Some(Err(_)) => break,
        }
    }
    Ok(Count {
        counted,
        more: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_says_when_there_may_be_more() {
        assert_eq!(
            Count {
                counted: 3,
                more: false
            }
            .to_string(),
            "3"
        );
        assert_eq!(
            Count {
                counted: 3,
                more: true
            }
            .to_string(),
            "3+"
        );
    }

    #[test]
    fn pages_are_added_up_to_the_last_and_no_further_than_the_bound() {
        let pages = [(2, Some("2")), (3, None)];
        let mut read = pages.iter();
        let count = count_pages(
            |token: &str| {
                token
                    .parse::<u32>()
                    .map_err(|_| InputError::new(crate::domain::reason::ReasonCode::NotAllowed, ""))
            },
            |_| {
                let (n, next) = read.next().expect("no page past the last");
                Ok((*n, next.map(str::to_owned)))
            },
        );
        assert_eq!(
            count.ok(),
            Some(Count {
                counted: 5,
                more: false
            })
        );
        let endless = count_pages(
            |token: &str| {
                token
                    .parse::<u32>()
                    .map_err(|_| InputError::new(crate::domain::reason::ReasonCode::NotAllowed, ""))
            },
            |_| Ok((1, Some("1".to_owned()))),
        );
        assert_eq!(
            endless.ok(),
            Some(Count {
                counted: COUNT_PAGES_MAX,
                more: true
            })
        );
    }
}

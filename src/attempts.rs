//! Failed sign-ins and bad tokens, counted per caller address, with backoff (see SECURITY.md).
//!
//! Tokens are 256 random bits, so guessing one is hopeless; what a guesser can do is load the
//! server and fill its logs. After [`FREE_FAILURES`] failures an address must wait before its
//! next attempt is even looked at: 1 s, then twice as long after each further failure, at most
//! [`BACKOFF_MAX`]. While it waits, every request from it is refused before its token is read,
//! with the time to wait, and so it learns nothing. An address is forgotten [`FORGET_AFTER`]
//! after its last failure; a success does not clear it (behind one NAT, a clerk's success must
//! not reset a guesser's count). The gRPC server and the console share one count.
//!
//! Everyone behind one address shares its count: a clerk behind the same NAT or proxy as a
//! guesser waits too, at most [`BACKOFF_MAX`] at a time, and only while the guessing goes on.
//! IPv6 callers are counted by their /64, which one subscriber usually holds whole.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Failures an address may make before it has to wait.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// An address without a failure for this long starts afresh.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Addresses tracked at once: past it, the forgotten are dropped first, then the quietest.
pub const ADDRESSES_MAX: usize = 65_536;

/// The failures of each address that failed lately.
#[derive(Debug, Default)]
pub struct FailedAttempts {
    addresses: Mutex<HashMap<IpAddr, Failures>>,
    /// How many are tracked, read without the lock: none, the usual case, costs nothing.
    tracked: AtomicUsize,
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    wait_until: Instant,
}

impl FailedAttempts {
    pub fn new() -> FailedAttempts {
        FailedAttempts::default()
    }

    /// How long `address` must still wait before an attempt is looked at; `None`: it may try.
    pub fn wait(&self, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let address = counted_as(address?);
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let addresses = self
            .addresses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let failures = addresses.get(&address)?;
        let wait = failures.wait_until.checked_duration_since(now)?;
        (!wait.is_zero()).then_some(wait)
    }

    /// Counts a failed attempt from `address`; returns how long it must now wait, if at all.
    pub fn failed(&self, address: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let address = counted_as(address?);
        let mut addresses = self
            .addresses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !addresses.contains_key(&address) && addresses.len() >= ADDRESSES_MAX {
            make_room(&mut addresses, now);
        }
        let failures = addresses.entry(address).or_insert(Failures {
            count: 0,
            last: now,
            wait_until: now,
        });
        if now.duration_since(failures.last) >= FORGET_AFTER {
            failures.count = 0;
        }
        failures.count = failures.count.saturating_add(1);
        failures.last = now;
        let wait = backoff(failures.count);
        failures.wait_until = now + wait;
        self.tracked.store(addresses.len(), Ordering::Relaxed);
        assert!(addresses.len() <= ADDRESSES_MAX, "the table is bounded");
        (!wait.is_zero()).then_some(wait)
    }
}

/// The wait after `count` failures: none for the free ones, then 1 s doubling to the maximum.
fn backoff(count: u32) -> Duration {
    let beyond_free = count.saturating_sub(FREE_FAILURES);
    if beyond_free == 0 {
        return Duration::ZERO;
    }
    let doublings = (beyond_free - 1).min(16);
    Duration::from_secs(1u64 << doublings).min(BACKOFF_MAX)
}

/// Drops the forgotten addresses, or if none is, the one whose last failure is oldest.
fn make_room(addresses: &mut HashMap<IpAddr, Failures>, now: Instant) {
    addresses.retain(|_, failures| now.duration_since(failures.last) < FORGET_AFTER);
    if addresses.len() < ADDRESSES_MAX {
        return;
    }
    let quietest = addresses
        .iter()
        .min_by_key(|(_, failures)| failures.last)
        .map(|(address, _)| *address);
    if let Some(address) = quietest {
        addresses.remove(&address);
    }
}

/// The key an address is counted under: IPv6 by its /64, IPv4-mapped IPv6 as IPv4.
fn counted_as(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn the_first_failures_are_free_then_the_wait_doubles_to_its_maximum() {
        let attempts = FailedAttempts::new();
        let start = Instant::now();
        let guesser = address("203.0.113.7");
        let waits: Vec<_> = (0..14)
            .map(|_| attempts.failed(guesser, start).map(|wait| wait.as_secs()))
            .collect();
        let mut expected = vec![None; 5];
        expected.extend([1, 2, 4, 8, 16, 32, 60, 60, 60].map(Some));
        assert_eq!(waits, expected);
        assert_eq!(
            attempts.wait(guesser, start + Duration::from_secs(59)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(attempts.wait(guesser, start + BACKOFF_MAX), None);
        assert_eq!(attempts.wait(address("203.0.113.8"), start), None);
    }

    #[test]
    fn an_address_is_forgotten_after_a_quiet_while() {
        let attempts = FailedAttempts::new();
        let start = Instant::now();
        let guesser = address("198.51.100.1");
        for _ in 0..FREE_FAILURES {
            attempts.failed(guesser, start);
        }
        assert!(attempts.failed(guesser, start).is_some());
        let later = start + FORGET_AFTER + Duration::from_secs(1);
        assert_eq!(attempts.failed(guesser, later), None, "counted afresh");
    }

    #[test]
    fn ipv6_is_counted_by_its_slash_64_and_mapped_ipv4_as_ipv4() {
        let attempts = FailedAttempts::new();
        let now = Instant::now();
        for host in 1..=FREE_FAILURES + 1 {
            attempts.failed(address(&format!("2001:db8:1:2::{host:x}")), now);
        }
        assert!(attempts.wait(address("2001:db8:1:2::ffff"), now).is_some());
        assert!(attempts.wait(address("2001:db8:1:3::1"), now).is_none());
        for _ in 0..=FREE_FAILURES {
            attempts.failed(address("::ffff:192.0.2.1"), now);
        }
        assert!(attempts.wait(address("192.0.2.1"), now).is_some());
    }

    #[test]
    fn the_table_never_grows_past_its_bound() {
        let attempts = FailedAttempts::new();
        let now = Instant::now();
        for index in 0..(ADDRESSES_MAX as u32 + 10) {
            let v4 = std::net::Ipv4Addr::from(0x0a00_0000 + index);
            attempts.failed(Some(IpAddr::V4(v4)), now);
        }
        assert_eq!(attempts.tracked.load(Ordering::Relaxed), ADDRESSES_MAX);
    }
}

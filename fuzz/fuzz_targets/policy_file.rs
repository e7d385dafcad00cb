//! Policy files from outside: `Policy::from_toml` on any UTF-8 text.
//!
//! Checks, when a file is accepted: the name is not blank; term_start ≤ term_end and both
//! format back to the file's text; the grace period is at most 3650 days; there is at least
//! one program and no program twice; every rate is in (0, 1] (also as the file wrote it, read
//! as an exact decimal); every cap is more than zero, a valid Money, and exactly the file's
//! amount (no rounding); the fingerprint is the SHA-256 of the text; reading again gives the
//! same policy; and the policy can be used: subsidy of the cap ≤ cap, the cap period holding
//! the first day of the term lies inside the term, redeem_by adds the grace days. When it is
//! refused, the error names a key. Each input is read twice: as a whole file, and line by
//! line as the rate, cap, term_start, term_end and redeem_grace_days of a well-formed file.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use voucher_ledger::domain::policy::Policy;
use voucher_ledger_fuzz::{check_money, exact_fen};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text);
    // The same text again as the values of an otherwise well-formed file, so that the checks
    // of rates, caps, dates and grace days run on every input and not only on the few random
    // texts that are a whole valid file.
    check(&as_values(text));
});

/// Lines of `text` as rate, cap, term_start, term_end and redeem_grace_days of a file with
/// one program (missing lines keep the default's values).
fn as_values(text: &str) -> String {
    let mut lines = text.split('\n');
    let mut value = |default: &str| toml::Value::from(lines.next().unwrap_or(default)).to_string();
    let rate = value("0.50");
    let cap = value("2000000.00");
    let term_start = value("2026-05-14");
    let term_end = value("2028-05-13");
    let grace = lines
        .next()
        .unwrap_or("90")
        .trim()
        .parse::<i64>()
        .unwrap_or(90);
    format!(
        "name = \"n\"\ndocument = \"d\"\nterm_start = {term_start}\nterm_end = {term_end}\n\
         redeem_grace_days = {grace}\n[[program]]\nprogram = \"compute\"\nname = \"算力券\"\n\
         name_en = \"\"\nmeasure = \"\"\nadministered_by = \"\"\nrate = {rate}\ncap = {cap}\n\
         cap_period = \"calendar_year\"\nrounding = \"half_up\"\nprovider_kind = \"\"\n"
    )
}

fn check(text: &str) {
    let policy = match Policy::from_toml(text) {
        Ok(policy) => policy,
        Err(error) => {
            assert!(
                !error.key.is_empty() && !error.message.is_empty(),
                "{error:?}"
            );
            return;
        }
    };

    assert!(!policy.name.trim().is_empty());
    assert!(
        policy.term.first <= policy.term.last,
        "term {:?}",
        policy.term
    );
    assert!(policy.redeem_grace_days <= 3650);
    assert_eq!(
        policy.fingerprint,
        hex::encode(Sha256::digest(text.as_bytes()))
    );
    assert_eq!(
        Policy::from_toml(text).as_ref(),
        Ok(&policy),
        "reading twice differs"
    );
    let programs = policy.programs();
    assert!(!programs.is_empty());
    for (index, rules) in programs.iter().enumerate() {
        assert!(
            programs[..index].iter().all(|seen| seen.code != rules.code),
            "{} twice",
            rules.code
        );
        assert_eq!(
            policy.program(rules.code).expect("offered").code,
            rules.code
        );
        let rate = rules.rate.as_decimal();
        assert!(rate > 0.into() && rate <= 1.into(), "rate {rate}");
        assert!(!rules.cap.is_zero(), "zero cap");
        check_money(rules.cap);

        // The policy in use.
        assert!(rules.subsidy_for(rules.cap) <= rules.cap);
        let period = policy
            .cap_period_containing(rules, policy.term.first)
            .expect("the term's first day has a cap period");
        assert!(period.contains(policy.term.first) && policy.term.contains_range(period));
        let redeem_by = policy.redeem_by(policy.term.last);
        assert_eq!(
            (redeem_by - policy.term.last).num_days(),
            i64::from(policy.redeem_grace_days)
        );
    }

    // What the file wrote, read independently of the code under test.
    let file: toml::Table = text.parse().expect("from_toml accepted it, so it is TOML");
    let date_text = |key: &str| file[key].as_str().expect("a string").to_owned();
    let shown = |date: NaiveDate| date.format("%Y-%m-%d").to_string();
    assert_eq!(shown(policy.term.first), date_text("term_start"));
    assert_eq!(shown(policy.term.last), date_text("term_end"));
    let entries = file["program"].as_array().expect("[[program]]");
    assert_eq!(entries.len(), programs.len());
    for (entry, rules) in entries.iter().zip(programs) {
        let rate_text = entry["rate"].as_str().expect("rate is a string");
        if let Some(rate) = ExactDecimal::parse(rate_text) {
            assert!(
                !rate.negative && !rate.is_zero() && rate.at_most_one(),
                "rate {rate_text:?} accepted as {}, but it is not in (0, 1]",
                rules.rate.as_decimal()
            );
        }
        let cap_text = entry["cap"].as_str().expect("cap is a string");
        if let Some(cap) = ExactDecimal::parse(cap_text) {
            assert!(
                !cap.negative || cap.is_zero(),
                "negative cap {cap_text:?} accepted"
            );
            assert_eq!(
                exact_fen(&cap.integer, &cap.fraction),
                Ok(rules.cap.fen() as u128),
                "cap {cap_text:?} accepted as {}",
                rules.cap
            );
        }
    }
}

/// `[+-]digits[.digits]` exactly, for comparing without rounding. Other spellings the
/// decimal parser also takes (`1e3`, `1_000`, `.5`) are not judged here.
struct ExactDecimal {
    negative: bool,
    integer: String,
    fraction: String,
}

impl ExactDecimal {
    fn parse(text: &str) -> Option<ExactDecimal> {
        let (negative, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if integer.is_empty() || !all_digits(integer) || !all_digits(fraction) {
            return None;
        }
        Some(ExactDecimal {
            negative,
            integer: integer.trim_start_matches('0').to_owned(),
            fraction: fraction.trim_end_matches('0').to_owned(),
        })
    }

    fn is_zero(&self) -> bool {
        self.integer.is_empty() && self.fraction.is_empty()
    }

    fn at_most_one(&self) -> bool {
        self.integer.is_empty() || (self.integer == "1" && self.fraction.is_empty())
    }
}

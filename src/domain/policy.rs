//! The policy as data: which programs exist, their rate, cap, cap period and rounding.
//!
//! A policy file is TOML (see `default_policy.toml`, compiled in as the default). It is read
//! whole and checked whole: a file with one bad key is refused, naming the key, and nothing of
//! it is used.

use crate::domain::reason::ReasonCode;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::dates::{DateRange, parse_date};
use super::error::LedgerError;
use super::model::{EvidenceKind, Role};
use super::money::{Money, Rate, Rounding, parse_plain_decimal};

/// The default rules: 启政办规〔2026〕1号, measures (五) and (七).
pub const DEFAULT_POLICY_TOML: &str = include_str!("default_policy.toml");

/// The longest grace period a policy file may give: ten years.
const REDEEM_GRACE_DAYS_MAX: u32 = 3650;

/// The programs a policy may define. The wire enum has the same three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramCode {
    /// 算力券
    Compute,
    /// 租赁券
    Leasing,
    /// 语料补贴
    Corpus,
}

impl ProgramCode {
    pub const ALL: [ProgramCode; 3] = [
        ProgramCode::Compute,
        ProgramCode::Leasing,
        ProgramCode::Corpus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProgramCode::Compute => "compute",
            ProgramCode::Leasing => "leasing",
            ProgramCode::Corpus => "corpus",
        }
    }
}

impl fmt::Display for ProgramCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Over what span an enterprise's cap runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapPeriod {
    /// 每年: a new cap every calendar year, clipped to the policy term.
    CalendarYear,
    /// One cap over the whole policy term.
    PolicyTerm,
}

/// One program's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramRules {
    pub code: ProgramCode,
    pub name: String,
    pub name_en: String,
    pub measure: String,
    pub administered_by: String,
    pub rate: Rate,
    pub cap: Money,
    pub cap_period: CapPeriod,
    pub rounding: Rounding,
    pub provider_kind: String,
    /// Documents every claim must carry.
    pub required_evidence: Vec<EvidenceKind>,
    /// The program's total budget per cap period, by the year the period starts in; a period
    /// without one is limited only by the caps.
    pub budgets: BTreeMap<i32, Money>,
    /// Whether the bureau may approve a claim only after the enterprise confirmed it.
    pub enterprise_confirmation: EnterpriseConfirmation,
}

/// A program's `enterprise_confirmation` option (企业确认).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnterpriseConfirmation {
    /// Claims are reviewed without the enterprise (the default, and every ledger before it).
    #[default]
    Off,
    /// A claim is approved only once the enterprise confirmed it.
    Required,
}

impl ProgramRules {
    /// The budget of the cap period starting on `period_start`, if the policy sets one.
    pub fn budget_for(&self, period_start: NaiveDate) -> Option<Money> {
        self.budgets.get(&period_start.year()).copied()
    }

    /// The subsidy an invoice amount earns before any cap.
    pub fn subsidy_for(&self, invoice_amount: Money) -> Money {
        invoice_amount.times_rate(self.rate, self.rounding)
    }
}

/// A whole, checked policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub document: String,
    /// Invoices dated inside the term qualify; nothing outside it does.
    pub term: DateRange,
    pub redeem_grace_days: u32,
    /// Separation of duties (issue 15): payments only by the finance bureau, a claim approved
    /// by another token than the one that filed it for its provider, a statement made by
    /// another token than any that approved its claims. Off by default.
    pub separation_of_duties: bool,
    programs: Vec<ProgramRules>,
    /// SHA-256 of the file's text, so the log can say which rules were in force.
    pub fingerprint: String,
}

impl Policy {
    /// Whether `role` may record a payment: the finance bureau, and the bureau unless duties
    /// are separated.
    pub fn records_payments(&self, role: Role) -> bool {
        match role {
            Role::Finance => true,
            Role::Bureau => !self.separation_of_duties,
            Role::Provider | Role::Auditor | Role::Enterprise => false,
        }
    }

    /// The compiled-in default.
    pub fn default_qidong() -> Policy {
        Policy::from_toml(DEFAULT_POLICY_TOML).expect("the compiled-in policy is valid")
    }

    /// Reads and checks a policy file. The error names the key and why.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|error| PolicyError {
            key: "(file)".to_owned(),
            message: error.to_string(),
        })?;
        let policy = file.check()?;
        Ok(Policy {
            fingerprint: hex::encode(Sha256::digest(text.as_bytes())),
            ..policy
        })
    }

    pub fn programs(&self) -> &[ProgramRules] {
        &self.programs
    }

    /// The rules of one program, or an error naming the `program` field if it is not offered.
    pub fn program(&self, code: ProgramCode) -> Result<&ProgramRules, LedgerError> {
        self.programs
            .iter()
            .find(|rules| rules.code == code)
            .ok_or_else(|| LedgerError::InvalidArgument {
                field: "program",
                reason: ReasonCode::ProgramNotOffered,
                message: format!("program {code} is not offered by the policy in force"),
            })
    }

    /// The cap period of `rules` that holds `date`, or `None` outside the term.
    pub fn cap_period_containing(
        &self,
        rules: &ProgramRules,
        date: NaiveDate,
    ) -> Option<DateRange> {
        match rules.cap_period {
            CapPeriod::PolicyTerm => self.term.contains(date).then_some(self.term),
            CapPeriod::CalendarYear => self.term.calendar_year_within(date),
        }
    }

    /// The last day a voucher valid until `valid_until` may be redeemed.
    pub fn redeem_by(&self, valid_until: NaiveDate) -> NaiveDate {
        valid_until + chrono::Days::new(u64::from(self.redeem_grace_days))
    }
}

/// What is wrong with a policy file: the key, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("policy file: {key}: {message}")]
pub struct PolicyError {
    pub key: String,
    pub message: String,
}

fn policy_error(key: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        key: key.into(),
        message: message.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: String,
    document: String,
    term_start: String,
    term_end: String,
    redeem_grace_days: u32,
    #[serde(default)]
    separation_of_duties: bool,
    program: Vec<ProgramEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgramEntry {
    program: ProgramCode,
    name: String,
    name_en: String,
    measure: String,
    administered_by: String,
    rate: String,
    cap: String,
    cap_period: CapPeriod,
    rounding: Rounding,
    provider_kind: String,
    #[serde(default)]
    required_evidence: Vec<EvidenceKind>,
    /// `{ "2027" = "30000000.00" }`: the budget of the cap period starting in that year.
    #[serde(default)]
    budgets: BTreeMap<String, String>,
    /// `"required"`: the enterprise confirms each claim before the bureau may approve it.
    #[serde(default)]
    enterprise_confirmation: EnterpriseConfirmation,
}

impl PolicyFile {
    fn check(self) -> Result<Policy, PolicyError> {
        require_text("name", &self.name)?;
        let term_start =
            parse_date(&self.term_start).map_err(|e| policy_error("term_start", e.message))?;
        let term_end =
            parse_date(&self.term_end).map_err(|e| policy_error("term_end", e.message))?;
        if term_end < term_start {
            return Err(policy_error("term_end", "must not be before term_start"));
        }
        if self.redeem_grace_days > REDEEM_GRACE_DAYS_MAX {
            return Err(policy_error("redeem_grace_days", "must be at most 3650"));
        }
        if self.program.is_empty() {
            return Err(policy_error(
                "program",
                "at least one [[program]] is needed",
            ));
        }
        let mut programs = Vec::with_capacity(self.program.len());
        for (index, entry) in self.program.into_iter().enumerate() {
            let rules = entry.check(index)?;
            if programs
                .iter()
                .any(|seen: &ProgramRules| seen.code == rules.code)
            {
                return Err(policy_error(
                    format!("program[{index}].program"),
                    "appears twice",
                ));
            }
            programs.push(rules);
        }
        Ok(Policy {
            name: self.name,
            document: self.document,
            term: DateRange::new(term_start, term_end),
            redeem_grace_days: self.redeem_grace_days,
            separation_of_duties: self.separation_of_duties,
            programs,
            fingerprint: String::new(),
        })
    }
}

impl ProgramEntry {
    fn check(self, index: usize) -> Result<ProgramRules, PolicyError> {
        let key = |name: &str| format!("program[{index}].{name}");
        require_text(&key("name"), &self.name)?;
        let rate_decimal = parse_plain_decimal(&self.rate)
            .ok_or_else(|| policy_error(key("rate"), "must be a decimal such as \"0.50\""))?;
        let rate = Rate::new(rate_decimal).map_err(|e| policy_error(key("rate"), e.message))?;
        let cap_decimal = parse_plain_decimal(&self.cap)
            .ok_or_else(|| policy_error(key("cap"), "must be yuan such as \"2000000.00\""))?;
        let cap = Money::positive_from_decimal(cap_decimal)
            .map_err(|e| policy_error(key("cap"), e.message))?;
        let mut budgets = BTreeMap::new();
        for (year, amount) in &self.budgets {
            let year_number: i32 = year
                .parse()
                .ok()
                .filter(|year| (2000..=2100).contains(year))
                .ok_or_else(|| policy_error(key("budgets"), format!("{year:?} is not a year")))?;
            let decimal = parse_plain_decimal(amount).ok_or_else(|| {
                policy_error(
                    key("budgets"),
                    format!("{year}: must be yuan such as \"30000000.00\""),
                )
            })?;
            let budget = Money::positive_from_decimal(decimal)
                .map_err(|e| policy_error(key("budgets"), format!("{year}: {}", e.message)))?;
            budgets.insert(year_number, budget);
        }
        Ok(ProgramRules {
            required_evidence: self.required_evidence,
            budgets,
            enterprise_confirmation: self.enterprise_confirmation,
            code: self.program,
            name: self.name,
            name_en: self.name_en,
            measure: self.measure,
            administered_by: self.administered_by,
            rate,
            cap,
            cap_period: self.cap_period,
            rounding: self.rounding,
            provider_kind: self.provider_kind,
        })
    }
}

fn require_text(key: &str, value: &str) -> Result<(), PolicyError> {
    if value.trim().is_empty() {
        return Err(policy_error(key, "must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dates::parse_date;

    fn day(text: &str) -> NaiveDate {
        parse_date(text).expect("date")
    }

    #[test]
    fn the_default_policy_is_measures_five_and_seven() {
        let policy = Policy::default_qidong();
        let compute = policy.program(ProgramCode::Compute).expect("compute");
        assert_eq!(compute.cap, Money::parse_yuan("2000000").expect("money"));
        assert_eq!(compute.cap_period, CapPeriod::CalendarYear);
        assert_eq!(
            compute
                .subsidy_for(Money::parse_yuan("100").expect("money"))
                .to_string(),
            "50.00"
        );
        let leasing = policy.program(ProgramCode::Leasing).expect("leasing");
        assert_eq!(leasing.cap, Money::parse_yuan("1000000").expect("money"));
        assert_eq!(leasing.cap_period, CapPeriod::PolicyTerm);
        assert_eq!(
            leasing
                .subsidy_for(Money::parse_yuan("100").expect("money"))
                .to_string(),
            "20.00"
        );
        assert!(policy.program(ProgramCode::Corpus).is_err());
        assert_eq!(
            policy.term,
            DateRange::new(day("2026-05-14"), day("2028-05-13"))
        );
        assert_eq!(policy.redeem_by(day("2027-12-31")), day("2028-03-30"));
        assert_eq!(policy.fingerprint.len(), 64);
    }

    #[test]
    fn cap_periods_follow_the_program() {
        let policy = Policy::default_qidong();
        let compute = policy.program(ProgramCode::Compute).expect("compute");
        let leasing = policy.program(ProgramCode::Leasing).expect("leasing");
        assert_eq!(
            policy.cap_period_containing(compute, day("2027-03-01")),
            Some(DateRange::new(day("2027-01-01"), day("2027-12-31")))
        );
        assert_eq!(
            policy.cap_period_containing(leasing, day("2027-03-01")),
            Some(policy.term)
        );
        assert_eq!(
            policy.cap_period_containing(leasing, day("2028-05-14")),
            None
        );
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_key() {
        let with = |from: &str, to: &str| {
            assert!(DEFAULT_POLICY_TOML.contains(from), "fixture {from}");
            Policy::from_toml(&DEFAULT_POLICY_TOML.replacen(from, to, 1)).expect_err(to)
        };
        assert_eq!(
            with("rate = \"0.50\"", "rate = \"1.5\"").key,
            "program[0].rate"
        );
        assert_eq!(
            with("rate = \"0.50\"", "rate = \"half\"").key,
            "program[0].rate"
        );
        assert_eq!(
            with("cap = \"2000000.00\"", "cap = \"0.001\"").key,
            "program[0].cap"
        );
        assert_eq!(
            with("term_end = \"2028-05-13\"", "term_end = \"2025-01-01\"").key,
            "term_end"
        );
        assert_eq!(
            with("term_start = \"2026-05-14\"", "term_start = \"2026-02-30\"").key,
            "term_start"
        );
        assert_eq!(
            with("redeem_grace_days = 90", "redeem_grace_days = 4000").key,
            "redeem_grace_days"
        );
        assert_eq!(
            with("program = \"leasing\"", "program = \"compute\"").key,
            "program[1].program"
        );
        let float_rate = with("rate = \"0.50\"", "rate = 0.5");
        assert!(
            float_rate.message.contains("rate"),
            "{}",
            float_rate.message
        );
        let unknown = with("rounding = \"half_up\"", "rounding = \"up\"");
        assert!(unknown.message.contains("rounding"), "{}", unknown.message);
        let extra = with(
            "name_en = \"compute voucher\"",
            "name_en = \"x\"\ncolour = \"red\"",
        );
        assert!(extra.message.contains("colour"), "{}", extra.message);
    }

    #[test]
    fn another_measure_is_a_new_file_not_new_code() {
        let corpus = DEFAULT_POLICY_TOML.to_owned()
            + "\n[[program]]\nprogram = \"corpus\"\nname = \"语料补贴\"\nname_en = \"corpus subsidy\"\n\
               measure = \"(八)\"\nadministered_by = \"市数据局\"\nrate = \"0.20\"\ncap = \"2000000.00\"\n\
               cap_period = \"policy_term\"\nrounding = \"half_up\"\nprovider_kind = \"data exchange\"\n";
        let policy = Policy::from_toml(&corpus).expect("valid");
        let rules = policy.program(ProgramCode::Corpus).expect("corpus offered");
        assert_eq!(
            rules
                .subsidy_for(Money::parse_yuan("0.03").expect("money"))
                .to_string(),
            "0.01"
        );
    }
}

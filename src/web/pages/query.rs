//! A page's query, parsed once into checked values: absent or empty is the default, anything
//! else must parse, or the page is refused with 400 naming the field, as gRPC would.

use chrono::{Datelike, NaiveDate};

use crate::domain::input::InputError;
use crate::domain::policy::{Policy, ProgramCode};
use crate::domain::reason::ReasonCode;
use crate::engine::{EngineError, Reader};
use crate::web::PageError;
use crate::web::i18n::Language;

/// The year asked for, within the policy term; this year by default.
pub fn parse_year(
    reader: &Reader,
    text: Option<&str>,
    language: Language,
) -> Result<i32, PageError> {
    let term = reader.policy().term;
    let Some(text) = text.filter(|text| !text.is_empty()) else {
        return Ok(reader
            .today()
            .year()
            .clamp(term.first.year(), term.last.year()));
    };
    let years = term.first.year()..=term.last.year();
    match text.parse::<i32>() {
        Ok(year) if years.contains(&year) => Ok(year),
        _ => Err(bad_field(
            "year",
            InputError::new(
                ReasonCode::YearOutsideTerm,
                format!(
                    "{text:?} is not a year of the policy term {} to {}",
                    term.first.year(),
                    term.last.year()
                ),
            ),
            language,
        )),
    }
}

/// The day whose cap periods a year's pages show: today in this year, else the year's first
/// day inside the term.
pub fn day_of_year(reader: &Reader, year: i32) -> NaiveDate {
    let today = reader.today();
    let term = reader.policy().term;
    let day = if today.year() == year {
        today
    } else {
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(term.first)
    };
    day.clamp(term.first, term.last)
}

/// A malformed query field: 400, naming the field, as gRPC would.
pub fn bad_field(field: &'static str, error: InputError, language: Language) -> PageError {
    PageError::engine(EngineError::Ledger(error.in_field(field)), language)
}

/// An optional query field: absent or empty is `None`; anything else must parse, or the page
/// is refused naming the field.
pub fn optional<T>(
    field: &'static str,
    text: Option<&str>,
    parse: impl Fn(&str) -> Result<T, InputError>,
    language: Language,
) -> Result<Option<T>, PageError> {
    match text.filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .map_err(|error| bad_field(field, error, language)),
    }
}

/// A program of the policy in force, by its code word (`compute`); empty means all.
pub fn optional_program(
    policy: &Policy,
    text: Option<&str>,
    language: Language,
) -> Result<Option<ProgramCode>, PageError> {
    let Some(text) = text.filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    policy
        .programs()
        .iter()
        .find(|rules| rules.code.as_str() == text)
        .map(|rules| Some(rules.code))
        .ok_or_else(|| {
            bad_field(
                "program",
                InputError::new(
                    ReasonCode::UnknownProgram,
                    format!("{text:?} is not a program of the policy in force"),
                ),
                language,
            )
        })
}

//! The enterprises (`/enterprises`): a search by name or credit code, or those nearest a
//! program's cap, each with a bar per program.

use std::iter::once;

use axum::extract::{OriginalUri, Query, State};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::query::{bad_field, day_of_year, optional, optional_program};
use super::{ROWS_PER_PAGE, refused, shell};
use crate::domain::credit_code::CreditCode;
use crate::domain::input::InputError;
use crate::domain::model::{Balance, Enterprise};
use crate::domain::policy::{Policy, ProgramCode, ProgramRules};
use crate::domain::reason::ReasonCode;
use crate::engine::{EngineError, Reader};
use crate::web::counts::Count;
use crate::web::fragments::{column, named_cell, row, table};
use crate::web::i18n::Language;
use crate::web::layout::{Section, program_name, usage_bar, yuan};
use crate::web::paging::{COUNT_PAGE, bounded_count, pager_here};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct EnterprisesQuery {
    q: Option<String>,
    after: Option<String>,
    /// A program: list the enterprises nearest its cap instead.
    near: Option<String>,
}

/// Cap accounts read at most to find those nearest their caps.
pub const NEAR_CAP_SCAN_MAX: usize = 10_000;

pub async fn enterprises(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<EnterprisesQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let asked = Asked::parse(&query, reader.policy(), language)?;
    let on_date = day_of_year(reader, reader.today().year());
    let listed = list(reader, &asked, on_date).map_err(refused(language))?;
    let rows = with_balances(reader, &listed.enterprises, on_date).map_err(refused(language))?;
    let total = match asked.near {
        Some(_) => None,
        None => Some(count(reader, asked.search).map_err(refused(language))?),
    };
    let programs = reader.policy().programs();
    let body = html! {
        (search_form(language, asked.search))
        (nearest_links(language, programs, asked.near))
        (crate::web::downloads::export_link(language, &format!("/downloads/enterprises?{}", uri.query().unwrap_or_default())))
        @if listed.truncated {
            p class="hint" { (language.pick("企业较多：仅在前 10,000 个额度账户中排序。", "Many enterprises: ranked among the first 10,000 cap accounts only.")) }
        }
        p class="hint" { (language.pick("条形：深色已核销，浅色已承诺，满格为上限。", "Bars: dark redeemed, light committed, full = the cap.")) }
        (enterprise_table(language, programs, &rows))
        (pager_here(language, &uri.to_string(), listed.next_after.as_deref(), rows.len(), total))
    };
    let title = language.pick("企业", "Enterprises");
    Ok(shell(&viewer, &uri, Section::Enterprises, title, body))
}

/// What the query asks for, checked: a search (or none), where the page starts, and the
/// program whose cap to rank by.
pub(crate) struct Asked<'q> {
    pub(crate) search: &'q str,
    after: Option<CreditCode>,
    pub(crate) near: Option<ProgramCode>,
}

impl<'q> Asked<'q> {
    pub(crate) fn parse(
        query: &'q EnterprisesQuery,
        policy: &Policy,
        language: Language,
    ) -> Result<Asked<'q>, PageError> {
        let search = query.q.as_deref().unwrap_or_default().trim();
        if search.chars().count() > 200 {
            return Err(bad_field(
                "q",
                InputError::new(ReasonCode::TooLong, "a search is at most 200 characters"),
                language,
            ));
        }
        let after = optional(
            "after",
            query.after.as_deref().map(str::trim),
            CreditCode::parse,
            language,
        )?;
        let near = optional_program(policy, query.near.as_deref(), language)?;
        Ok(Asked {
            search,
            after,
            near,
        })
    }
}

/// How many enterprises the search finds, counted a bounded way.
fn count(reader: &Reader, search: &str) -> Result<Count, EngineError> {
    bounded_count(|after| {
        // The store's own key always parses; were it not to, the count ends there.
        let Ok(after) = after.map(|key| CreditCode::parse(&key)).transpose() else {
            return Ok((0, None));
        };
        let page = reader.list_enterprises(search, after, COUNT_PAGE)?;
        Ok((page.items.len(), page.next_after))
    })
}

/// The enterprises a page lists, where the next page starts, and whether the ranking near a
/// cap read fewer cap accounts than there are.
struct Listed {
    enterprises: Vec<Enterprise>,
    next_after: Option<String>,
    truncated: bool,
}

fn list(reader: &Reader, asked: &Asked<'_>, on_date: NaiveDate) -> Result<Listed, EngineError> {
    Ok(match asked.near {
        Some(program) => {
            let (enterprises, truncated) = nearest_caps(reader, program, on_date)?;
            Listed {
                enterprises,
                next_after: None,
                truncated,
            }
        }
        None => {
            let page = reader.list_enterprises(asked.search, asked.after, ROWS_PER_PAGE)?;
            Listed {
                enterprises: page.items,
                next_after: page.next_after,
                truncated: false,
            }
        }
    })
}

/// The enterprises with the most redeemed under `program` in the period holding `on_date`
/// (every enterprise has the same cap, so the most redeemed are the nearest to it), and
/// whether there were more cap accounts than were read.
fn nearest_caps(
    reader: &Reader,
    program: ProgramCode,
    on_date: NaiveDate,
) -> Result<(Vec<Enterprise>, bool), EngineError> {
    let (mut balances, truncated) =
        reader.balances_up_to(program, Some(on_date), NEAR_CAP_SCAN_MAX)?;
    balances.sort_by(|a, b| {
        b.redeemed
            .cmp(&a.redeemed)
            .then(a.enterprise_credit_code.cmp(&b.enterprise_credit_code))
    });
    let mut nearest = Vec::new();
    for balance in balances.iter().take(ROWS_PER_PAGE) {
        nearest.push(reader.enterprise(&balance.enterprise_credit_code)?);
    }
    Ok((nearest, truncated))
}

/// Each enterprise with its balances.
fn with_balances<'e>(
    reader: &Reader,
    enterprises: &'e [Enterprise],
    on_date: NaiveDate,
) -> Result<Vec<(&'e Enterprise, Vec<Balance>)>, EngineError> {
    enterprises
        .iter()
        .map(|enterprise| {
            let balances = balances_of(reader, &enterprise.credit_code, on_date)?;
            Ok((enterprise, balances))
        })
        .collect()
}

/// An enterprise's balance under every program of the policy, in the policy's order, in the
/// cap periods holding `on_date`.
pub(in crate::web) fn balances_of(
    reader: &Reader,
    code: &CreditCode,
    on_date: NaiveDate,
) -> Result<Vec<Balance>, EngineError> {
    reader
        .policy()
        .programs()
        .iter()
        .map(|rules| reader.balance(code, rules.code, Some(on_date)))
        .collect()
}

fn search_form(language: Language, search: &str) -> Markup {
    html! {
        form method="get" action="/enterprises" class="filters" {
            label {
                (language.pick("搜索（名称或信用代码）", "Search (name or credit code)")) " "
                input type="search" name="q" value=(search) maxlength="200";
            }
            " "
            button type="submit" { (language.pick("搜索", "Search")) }
        }
    }
}

/// A button per program, ranking the enterprises nearest its cap; the chosen one lit.
fn nearest_links(
    language: Language,
    programs: &[ProgramRules],
    near: Option<ProgramCode>,
) -> Markup {
    html! {
        p class="near" {
            (language.pick("最接近上限：", "Nearest their cap: "))
            @for rules in programs {
                a class={"button secondary" @if near == Some(rules.code) { " active" }} href={"/enterprises?near=" (rules.code)} { (program_name(language, rules)) }
                " "
            }
        }
    }
}

/// An enterprise a row: its name (to its page) over its code, then a balance per program.
fn enterprise_table(
    language: Language,
    programs: &[ProgramRules],
    rows: &[(&Enterprise, Vec<Balance>)],
) -> Markup {
    let names: Vec<String> = programs
        .iter()
        .map(|rules| program_name(language, rules))
        .collect();
    let mut columns = vec![column(language.pick("企业", "Enterprise"))];
    columns.extend(names.iter().map(|name| column(name)));
    let rows = rows.iter().map(|(enterprise, balances)| {
        let code = enterprise.credit_code;
        let name = html! { a href={"/enterprises/" (code)} { (enterprise.name.as_str()) } };
        let balances = balances
            .iter()
            .map(|balance| balance_cell(language, balance));
        row(once(named_cell(name, code)).chain(balances))
    });
    let empty = language.pick("没有符合条件的企业。", "No enterprise matches.");
    table(&columns, rows, Some(empty))
}

fn balance_cell(language: Language, balance: &Balance) -> Markup {
    html! { td class="balance" { (balance_figures(language, balance)) } }
}

/// A balance as a bar (redeemed over committed, out of the cap) with its three figures.
pub(super) fn balance_figures(language: Language, balance: &Balance) -> Markup {
    html! {
        (usage_bar(language, balance.redeemed.as_decimal(), balance.committed.as_decimal(), balance.cap.as_decimal()))
        div class="figures" {
            (yuan(balance.redeemed)) " / " (yuan(balance.committed)) " / " (yuan(balance.cap))
        }
    }
}

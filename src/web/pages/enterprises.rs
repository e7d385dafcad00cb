//! The enterprises (`/enterprises`): a search by name or credit code, or those nearest a
//! program's cap, each with a bar per program.

use axum::extract::{OriginalUri, Query, State};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use super::query::{bad_field, day_of_year, optional, optional_program};
use super::{ROWS_PER_PAGE, chrome, pager};
use crate::domain::credit_code::CreditCode;
use crate::domain::input::InputError;
use crate::domain::model::Balance;
use crate::domain::policy::ProgramCode;
use crate::domain::reason::ReasonCode;
use crate::engine::{EngineError, Reader};
use crate::web::i18n::Language;
use crate::web::layout::{self, Section, encode, program_name, usage_bar, yuan};
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
    let search = query.q.unwrap_or_default();
    let search = search.trim();
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
    let near = optional_program(reader.policy(), query.near.as_deref(), language)?;
    let on_date = day_of_year(reader, reader.today().year());
    let (listed, next_after, near_truncated) = match near {
        Some(program) => {
            let (nearest, truncated) = nearest_caps(reader, program, on_date)
                .map_err(|error| PageError::engine(error, language))?;
            (nearest, None, truncated)
        }
        None => {
            let page = reader
                .list_enterprises(search, after, ROWS_PER_PAGE)
                .map_err(|error| PageError::engine(error, language))?;
            (page.items, page.next_after, false)
        }
    };
    let programs = reader.policy().programs();
    let mut rows = Vec::with_capacity(listed.len());
    for enterprise in &listed {
        let mut balances = Vec::with_capacity(programs.len());
        for rules in programs {
            balances.push(
                reader
                    .balance(&enterprise.credit_code, rules.code, Some(on_date))
                    .map_err(|error| PageError::engine(error, language))?,
            );
        }
        rows.push((enterprise, balances));
    }
    let next = next_after
        .map(|after| format!("/enterprises?q={}&after={}", encode(search), encode(&after)));
    let title = language.pick("企业", "Enterprises");
    let body = html! {
        form method="get" action="/enterprises" class="filters" {
            label {
                (language.pick("搜索（名称或信用代码）", "Search (name or credit code)")) " "
                input type="search" name="q" value=(search) maxlength="200";
            }
            " "
            button type="submit" { (language.pick("搜索", "Search")) }
        }
        p class="near" {
            (language.pick("最接近上限：", "Nearest their cap: "))
            @for rules in programs {
                a class={"button secondary" @if near == Some(rules.code) { " active" }} href={"/enterprises?near=" (rules.code)} { (program_name(language, rules)) }
                " "
            }
        }
        @if near_truncated {
            p class="hint" { (language.pick("企业较多：仅在前 10,000 个额度账户中排序。", "Many enterprises: ranked among the first 10,000 cap accounts only.")) }
        }
        p class="hint" { (language.pick("条形：深色已核销，浅色已承诺，满格为上限。", "Bars: dark redeemed, light committed, full = the cap.")) }
        table class="list" {
            thead { tr {
                th { (language.pick("企业", "Enterprise")) }
                @for rules in programs { th { (program_name(language, rules)) } }
            } }
            tbody {
                @for (enterprise, balances) in &rows {
                    tr {
                        td {
                            a href={"/enterprises/" (enterprise.credit_code)} { (enterprise.name.as_str()) }
                            div class="code" { (enterprise.credit_code) }
                        }
                        @for balance in balances { td class="balance" { (balance_cell(language, balance)) } }
                    }
                }
                @if rows.is_empty() {
                    tr { td colspan=(programs.len() + 1) { (language.pick("没有符合条件的企业。", "No enterprise matches.")) } }
                }
            }
        }
        (pager(language, next))
    };
    Ok(layout::page(
        &chrome(&viewer, uri.to_string().as_str()),
        Section::Enterprises,
        title,
        body,
    ))
}

/// The enterprises with the most redeemed under `program` in the period holding `on_date`
/// (every enterprise has the same cap, so the most redeemed are the nearest to it), and
/// whether there were more cap accounts than were read.
fn nearest_caps(
    reader: &Reader,
    program: ProgramCode,
    on_date: NaiveDate,
) -> Result<(Vec<crate::domain::model::Enterprise>, bool), EngineError> {
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

pub(super) fn balance_cell(language: Language, balance: &Balance) -> Markup {
    html! {
        (usage_bar(language, balance.redeemed.as_decimal(), balance.committed.as_decimal(), balance.cap.as_decimal()))
        div class="figures" {
            (yuan(balance.redeemed)) " / " (yuan(balance.committed)) " / " (yuan(balance.cap))
        }
    }
}

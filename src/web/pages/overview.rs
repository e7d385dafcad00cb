//! The overview (`/`): per program and cap period, the totals as cards, cap and budget use as
//! bars, redeemed yuan by the month of the claims' invoices as a chart, and the report
//! downloads.

use axum::extract::{OriginalUri, Query, State};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::query::{day_of_year, parse_year};
use super::{refused, shell, year_picker};
use crate::domain::model::ProgramSummary;
use crate::domain::policy::ProgramRules;
use crate::web::chart::{self, Bar};
use crate::web::i18n::Language;
use crate::web::layout::{Section, program_name, total, usage_bar, yuan};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct YearQuery {
    year: Option<String>,
}

pub async fn overview(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<YearQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let year = parse_year(reader, query.year.as_deref(), language)?;
    let on_date = day_of_year(reader, year);
    let mut sections = Vec::new();
    for rules in reader.policy().programs() {
        let summary = reader
            .program_summary(rules.code, Some(on_date))
            .map_err(refused(language))?;
        sections.push(program_overview(language, rules, &summary, year));
    }
    let body = html! {
        (year_picker(language, reader.policy(), year, "/"))
        @for section in &sections { (section) }
    };
    let title = language.pick("总览", "Overview");
    Ok(shell(&viewer, &uri, Section::Overview, title, body))
}

/// One program's section: its cards, its bars, its chart, its downloads.
fn program_overview(
    language: Language,
    rules: &ProgramRules,
    summary: &ProgramSummary,
    year: i32,
) -> Markup {
    let name = program_name(language, rules);
    let chart_title = format!(
        "{name} {}",
        language.pick("按发票月份核销", "redeemed by invoice month")
    );
    let download = |format: &str| {
        format!(
            "/downloads/report?program={}&year={year}&format={format}",
            rules.code
        )
    };
    html! {
        section class="program" id=(rules.code.as_str()) {
            h2 { (name) " · " (summary.period.first) " – " (summary.period.last) }
            (cards(language, summary))
            (usage(language, summary))
            h3 { (language.pick("按发票月份的核销金额（万元）", "Redeemed by invoice month (thousand yuan)")) }
            (chart::monthly_bars(language, &chart_title, &monthly_bars(summary)))
            p class="downloads" {
                a class="button" href=(download("xlsx")) { (language.pick("下载报表 XLSX", "Download report XLSX")) }
                " "
                a class="button secondary" href=(download("csv")) { (language.pick("下载 CSV", "Download CSV")) }
            }
        }
    }
}

/// The period's totals, a card each.
fn cards(language: Language, summary: &ProgramSummary) -> Markup {
    let totals = &summary.totals;
    let budget = summary
        .budget
        .map(yuan)
        .unwrap_or_else(|| language.pick("未设", "none").to_owned());
    html! {
        div class="cards" {
            (card(language.pick("企业数", "Enterprises"), &totals.enterprises.to_string()))
            (card(language.pick("已发券", "Vouchers"), &totals.vouchers.to_string()))
            (card(language.pick("已承诺（元）", "Committed (yuan)"), &total(totals.committed)))
            (card(language.pick("已核销（元）", "Redeemed (yuan)"), &total(totals.redeemed)))
            (card(language.pick("已结算（元）", "Settled (yuan)"), &total(totals.settled)))
            (card(language.pick("预算（元）", "Budget (yuan)"), &budget))
        }
    }
}

fn card(label: &str, value: &str) -> Markup {
    html! {
        div class="card" {
            div class="label" { (label) }
            div class="value" { (value) }
        }
    }
}

/// Cap use across all enterprises, and budget use when the policy sets a budget.
fn usage(language: Language, summary: &ProgramSummary) -> Markup {
    let totals = &summary.totals;
    let caps_total = summary.cap.as_decimal() * Decimal::from(totals.enterprises);
    let (redeemed, committed) = (totals.redeemed.as_decimal(), totals.committed.as_decimal());
    html! {
        div class="usage" {
            p {
                (language.pick("全部企业额度使用情况（深色已核销，浅色已承诺，满格为 企业数 × 单企业上限 ", "Cap use across all enterprises (dark redeemed, light committed, full = enterprises × cap of "))
                (yuan(summary.cap)) (language.pick(" 元）", " yuan)"))
            }
            (usage_bar(language, redeemed, committed, caps_total))
            @if let Some(budget) = summary.budget {
                p { (language.pick("预算使用（满格为预算）", "Budget use (full = the budget)")) }
                (usage_bar(language, redeemed, committed, budget.as_decimal()))
            }
        }
    }
}

/// Redeemed yuan in each invoice month of the period, none missing.
fn monthly_bars(summary: &ProgramSummary) -> Vec<Bar> {
    months_of(summary.period.first, summary.period.last)
        .into_iter()
        .map(|(year, month)| Bar {
            label: format!("{year}-{month:02}"),
            amount: summary
                .totals
                .redeemed_by_invoice_month
                .get(&(year.unsigned_abs() * 100 + month))
                .map(|amount| amount.as_decimal())
                .unwrap_or(Decimal::ZERO),
        })
        .collect()
}

/// Every (year, month) from `first` to `last`.
fn months_of(first: NaiveDate, last: NaiveDate) -> Vec<(i32, u32)> {
    let mut months = Vec::new();
    let (mut year, mut month) = (first.year(), first.month());
    while (year, month) <= (last.year(), last.month()) {
        months.push((year, month));
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_run_from_the_first_to_the_last_across_a_new_year() {
        let months = months_of(
            NaiveDate::from_ymd_opt(2026, 11, 14).unwrap_or_default(),
            NaiveDate::from_ymd_opt(2027, 2, 1).unwrap_or_default(),
        );
        assert_eq!(months, vec![(2026, 11), (2026, 12), (2027, 1), (2027, 2)]);
    }
}

//! The pages that read: overview, enterprises, one enterprise, redemptions, providers. Each
//! parses its query once into checked values (a bad one is refused naming the field), reads
//! from the engine's reader, and draws.

use crate::domain::reason::ReasonCode;
use axum::extract::{OriginalUri, Path, Query, State};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::chart::{self, Bar};
use super::i18n::Language;
use super::layout::{self, Chrome, Section, encode, program_name, total, usage_bar, yuan};
use super::{Console, PageError, Viewer};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::parse_date;
use crate::domain::ids::{RedemptionId, SettlementId};
use crate::domain::input::InputError;
use crate::domain::model::{Actor, Balance, ProgramSummary, Redemption};
use crate::domain::policy::{Policy, ProgramCode, ProgramRules};
use crate::engine::EngineError;
use crate::engine::Reader;
use crate::engine::{RedemptionFilter, SettlementFilter, VoucherFilter};

/// Rows on one page of a list.
pub const ROWS_PER_PAGE: usize = 50;
/// Vouchers shown on an enterprise's page.
pub const ENTERPRISE_VOUCHERS_MAX: usize = 200;
/// Providers shown on the providers page.
pub const PROVIDERS_MAX: usize = 1000;

// ---------------------------------------------------------------------------------------------
// Overview
// ---------------------------------------------------------------------------------------------

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
            .map_err(|error| PageError::engine(error, language))?;
        sections.push(program_overview(language, rules, &summary, year));
    }
    let title = language.pick("总览", "Overview");
    let body = html! {
        (year_picker(language, reader.policy(), year, "/"))
        @for section in &sections { (section) }
    };
    Ok(layout::page(
        &chrome(&viewer, uri.to_string().as_str()),
        Section::Overview,
        title,
        body,
    ))
}

fn program_overview(
    language: Language,
    rules: &ProgramRules,
    summary: &ProgramSummary,
    year: i32,
) -> Markup {
    let totals = &summary.totals;
    let caps_total = summary.cap.as_decimal() * Decimal::from(totals.enterprises);
    let settled = totals.settled;
    let bars: Vec<Bar> = months_of(summary.period.first, summary.period.last)
        .into_iter()
        .map(|(year, month)| Bar {
            label: format!("{year}-{month:02}"),
            amount: totals
                .redeemed_by_month
                .get(&(year.unsigned_abs() * 100 + month))
                .map(|amount| amount.as_decimal())
                .unwrap_or(Decimal::ZERO),
        })
        .collect();
    let name = program_name(language, rules);
    let download = |format: &str| {
        format!(
            "/downloads/report?program={}&year={year}&format={format}",
            rules.code
        )
    };
    html! {
        section class="program" id=(rules.code.as_str()) {
            h2 { (name) " · " (summary.period.first) " – " (summary.period.last) }
            div class="cards" {
                (card(language.pick("企业数", "Enterprises"), &totals.enterprises.to_string()))
                (card(language.pick("已发券", "Vouchers"), &totals.vouchers.to_string()))
                (card(language.pick("已承诺", "Committed"), &total(totals.committed)))
                (card(language.pick("已核销", "Redeemed"), &total(totals.redeemed)))
                (card(language.pick("已结算", "Settled"), &total(settled)))
                (card(language.pick("预算", "Budget"), &summary.budget.map(yuan).unwrap_or_else(|| language.pick("未设", "none").to_owned())))
            }
            div class="usage" {
                p {
                    (language.pick("全部企业额度使用情况（深色已核销，浅色已承诺，满格为 企业数 × 单企业上限 ", "Cap use across all enterprises (dark redeemed, light committed, full = enterprises × cap "))
                    (yuan(summary.cap)) ")"
                }
                (usage_bar(language, totals.redeemed.as_decimal(), totals.committed.as_decimal(), caps_total))
                @if let Some(budget) = summary.budget {
                    p { (language.pick("预算使用（满格为预算）", "Budget use (full = the budget)")) }
                    (usage_bar(language, totals.redeemed.as_decimal(), totals.committed.as_decimal(), budget.as_decimal()))
                }
            }
            h3 { (language.pick("每月核销金额（元）", "Redeemed per month (yuan)")) }
            (chart::monthly_bars(&format!("{name} {}", language.pick("每月核销", "redeemed per month")), &bars))
            p class="downloads" {
                a class="button" href=(download("xlsx")) { (language.pick("下载报表 XLSX", "Download report XLSX")) }
                " "
                a class="button secondary" href=(download("csv")) { (language.pick("下载 CSV", "Download CSV")) }
            }
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

fn year_picker(language: Language, policy: &Policy, selected: i32, action: &str) -> Markup {
    html! {
        form method="get" action=(action) class="filters" {
            label {
                (language.pick("年度", "Year")) " "
                select name="year" {
                    @for year in policy.term.first.year()..=policy.term.last.year() {
                        option value=(year) selected[year == selected] { (year) }
                    }
                }
            }
            " "
            button type="submit" { (language.pick("查看", "Show")) }
        }
    }
}

/// The year asked for, within the policy term; this year by default.
pub(super) fn parse_year(
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
pub(super) fn day_of_year(reader: &Reader, year: i32) -> NaiveDate {
    let today = reader.today();
    let term = reader.policy().term;
    let day = if today.year() == year {
        today
    } else {
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(term.first)
    };
    day.clamp(term.first, term.last)
}

// ---------------------------------------------------------------------------------------------
// Enterprises
// ---------------------------------------------------------------------------------------------

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

fn balance_cell(language: Language, balance: &Balance) -> Markup {
    html! {
        (usage_bar(language, balance.redeemed.as_decimal(), balance.committed.as_decimal(), balance.cap.as_decimal()))
        div class="figures" {
            (yuan(balance.redeemed)) " / " (yuan(balance.committed)) " / " (yuan(balance.cap))
        }
    }
}

pub async fn enterprise(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Path(credit_code): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let code = CreditCode::parse(&credit_code)
        .map_err(|error| bad_field("credit_code", error, language))?;
    let after = optional(
        "after",
        query.after.as_deref(),
        RedemptionId::parse,
        language,
    )?;
    let engine_error = |error: EngineError| PageError::engine(error, language);
    let enterprise = reader.enterprise(&code).map_err(engine_error)?;
    let on_date = day_of_year(reader, reader.today().year());
    let mut balances = Vec::new();
    for rules in reader.policy().programs() {
        balances.push((
            rules,
            reader
                .balance(&code, rules.code, Some(on_date))
                .map_err(engine_error)?,
        ));
    }
    let vouchers = reader
        .list_vouchers(
            VoucherFilter {
                enterprise_credit_code: Some(code),
                program: None,
            },
            None,
            ENTERPRISE_VOUCHERS_MAX,
        )
        .map_err(engine_error)?;
    let filter = RedemptionFilter {
        enterprise_credit_code: Some(code),
        ..RedemptionFilter::default()
    };
    let redemptions = reader
        .list_redemptions(filter, Actor::Bureau, after, ROWS_PER_PAGE)
        .map_err(engine_error)?;
    let next = redemptions
        .next_after
        .map(|after| format!("/enterprises/{code}?after={}", encode(&after)));
    let body = html! {
        p class="code" { (language.pick("统一社会信用代码 ", "Credit code ")) (code) }
        div class="cards" {
            @for (rules, balance) in &balances {
                div class="card wide" {
                    div class="label" { (program_name(language, rules)) " · " (balance.period.first) " – " (balance.period.last) }
                    (balance_cell(language, balance))
                    div class="figures" {
                        (language.pick("可发放 ", "available to issue ")) (yuan(balance.available_to_issue))
                        " · " (language.pick("待核销 ", "outstanding ")) (yuan(balance.outstanding))
                    }
                }
            }
        }
        h2 { (language.pick("券", "Vouchers")) }
        table class="list" {
            thead { tr {
                th { (language.pick("券号", "Voucher")) } th { (language.pick("项目", "Program")) }
                th { (language.pick("状态", "Status")) } th class="number" { (language.pick("面值", "Face value")) }
                th class="number" { (language.pick("已核销", "Redeemed")) } th { (language.pick("有效期", "Valid")) }
                th { (language.pick("核销截止", "Redeem by")) }
            } }
            tbody {
                @for voucher in &vouchers.items {
                    tr {
                        td { (voucher.voucher_id) } td { (voucher.program) }
                        td { (layout::voucher_status(language, voucher.status)) }
                        td class="number" { (yuan(voucher.face_value)) } td class="number" { (yuan(voucher.redeemed)) }
                        td { (voucher.validity.first) " – " (voucher.validity.last) } td { (voucher.redeem_by) }
                    }
                }
            }
        }
        @if vouchers.next_after.is_some() {
            p class="hint" { (language.pick("仅显示前 200 张券；完整列表请用 voucherctl list-vouchers。", "The first 200 vouchers only; voucherctl list-vouchers lists them all.")) }
        }
        h2 { (language.pick("核销记录", "Redemptions")) }
        (redemption_table(language, &redemptions.items))
        (pager(language, next))
    };
    Ok(layout::page(
        &chrome(&viewer, uri.to_string().as_str()),
        Section::Enterprises,
        enterprise.name.as_str(),
        body,
    ))
}

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Redemptions
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct RedemptionsQuery {
    program: Option<String>,
    provider: Option<String>,
    enterprise: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<String>,
}

pub async fn redemptions(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<RedemptionsQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let filter = RedemptionFilter {
        program: optional_program(reader.policy(), query.program.as_deref(), language)?,
        provider_credit_code: optional(
            "provider",
            query.provider.as_deref().map(str::trim),
            CreditCode::parse,
            language,
        )?,
        enterprise_credit_code: optional(
            "enterprise",
            query.enterprise.as_deref().map(str::trim),
            CreditCode::parse,
            language,
        )?,
        invoice_date_from: optional(
            "from",
            query.from.as_deref().map(str::trim),
            parse_date,
            language,
        )?,
        invoice_date_to: optional(
            "to",
            query.to.as_deref().map(str::trim),
            parse_date,
            language,
        )?,
    };
    let after = optional(
        "after",
        query.after.as_deref(),
        RedemptionId::parse,
        language,
    )?;
    let page = reader
        .list_redemptions(filter, Actor::Bureau, after, ROWS_PER_PAGE)
        .map_err(|error| PageError::engine(error, language))?;
    let value = |field: &Option<String>| field.clone().unwrap_or_default();
    let filters = [
        ("program", value(&query.program)),
        ("provider", value(&query.provider)),
        ("enterprise", value(&query.enterprise)),
        ("from", value(&query.from)),
        ("to", value(&query.to)),
    ];
    let next = page.next_after.map(|after| {
        let mut link = String::from("/redemptions?");
        for (name, value) in &filters {
            link.push_str(&format!("{name}={}&", encode(value)));
        }
        link.push_str(&format!("after={}", encode(&after)));
        link
    });
    let body = html! {
        form method="get" action="/redemptions" class="filters" {
            label { (language.pick("项目", "Program")) " "
                select name="program" {
                    option value="" { (language.pick("全部", "All")) }
                    @for rules in reader.policy().programs() {
                        option value=(rules.code) selected[filters[0].1 == rules.code.as_str()] { (program_name(language, rules)) }
                    }
                }
            }
            label { (language.pick("服务商代码", "Provider code")) " " input name="provider" value=(filters[1].1) size="20" maxlength="18"; }
            label { (language.pick("企业代码", "Enterprise code")) " " input name="enterprise" value=(filters[2].1) size="20" maxlength="18"; }
            label { (language.pick("发票日期自", "Invoice from")) " " input type="date" name="from" value=(filters[3].1); }
            label { (language.pick("至", "to")) " " input type="date" name="to" value=(filters[4].1); }
            button type="submit" { (language.pick("筛选", "Filter")) }
        }
        (redemption_table(language, &page.items))
        (pager(language, next))
    };
    Ok(layout::page(
        &chrome(&viewer, uri.to_string().as_str()),
        Section::Redemptions,
        language.pick("核销记录", "Redemptions"),
        body,
    ))
}

fn redemption_table(language: Language, redemptions: &[Redemption]) -> Markup {
    html! {
        table class="list" {
            thead { tr {
                th { (language.pick("核销编号", "Redemption")) } th { (language.pick("项目", "Program")) }
                th { (language.pick("企业", "Enterprise")) } th { (language.pick("服务商", "Provider")) }
                th { (language.pick("发票号码", "Invoice")) } th { (language.pick("发票日期", "Invoice date")) }
                th class="number" { (language.pick("发票金额", "Amount")) } th class="number" { (language.pick("补贴", "Subsidy")) }
                th { (language.pick("状态", "Status")) }
            } }
            tbody {
                @for redemption in redemptions {
                    tr {
                        td { (redemption.redemption_id) } td { (redemption.program) }
                        td { a href={"/enterprises/" (redemption.enterprise_credit_code)} { (redemption.enterprise_credit_code) } }
                        td { (redemption.provider_credit_code) }
                        td { (redemption.invoice.number) } td { (redemption.invoice.date) }
                        td class="number" { (yuan(redemption.invoice.amount)) }
                        td class="number" { (yuan(redemption.subsidy)) }
                        td { (layout::redemption_status(language, redemption.status)) }
                    }
                }
                @if redemptions.is_empty() {
                    tr { td colspan="9" { (language.pick("没有符合条件的核销记录。", "No redemption matches.")) } }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct ProvidersQuery {
    year: Option<String>,
    statements_after: Option<String>,
}

pub async fn providers(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<ProvidersQuery>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let engine_error = |error: EngineError| PageError::engine(error, language);
    let year = parse_year(reader, query.year.as_deref(), language)?;
    let statements_after = optional(
        "statements_after",
        query.statements_after.as_deref(),
        SettlementId::parse,
        language,
    )?;
    let statements = reader
        .list_settlements(
            SettlementFilter::default(),
            Actor::Bureau,
            statements_after,
            ROWS_PER_PAGE,
        )
        .map_err(engine_error)?;
    let next_statements = statements
        .next_after
        .map(|after| format!("/providers?year={year}&statements_after={}", encode(&after)));
    let on_date = day_of_year(reader, year);
    let pool = reader
        .list_providers(None, PROVIDERS_MAX)
        .map_err(engine_error)?;
    let mut summaries = Vec::new();
    for rules in reader.policy().programs() {
        summaries.push((
            rules,
            reader
                .program_summary(rules.code, Some(on_date))
                .map_err(engine_error)?,
        ));
    }
    let program_of = |code: ProgramCode| {
        reader
            .policy()
            .programs()
            .iter()
            .find(|rules| rules.code == code)
            .map(|rules| program_name(language, rules))
            .unwrap_or_else(|| code.to_string())
    };
    let body = html! {
        (year_picker(language, reader.policy(), year, "/providers"))
        h2 { (language.pick("资源池", "Resource pool")) }
        table class="list" {
            thead { tr {
                th { (language.pick("服务商", "Provider")) } th { (language.pick("信用代码", "Credit code")) }
                th { (language.pick("项目", "Program")) } th { (language.pick("登记时间", "Registered")) }
            } }
            tbody {
                @for provider in &pool.items {
                    tr {
                        td { (provider.name.as_str()) } td class="code" { (provider.credit_code) }
                        td { (program_of(provider.program)) }
                        td { (provider.registered_at.format("%Y-%m-%d %H:%M")) }
                    }
                }
            }
        }
        @if pool.next_after.is_some() {
            p class="hint" { (language.pick("仅显示前 1000 家服务商。", "The first 1,000 providers only.")) }
        }
        h2 { (language.pick("结算单（付款凭证）", "Settlement statements (payment vouchers)")) }
        table class="list" {
            thead { tr {
                th { (language.pick("结算单号", "Statement")) } th { (language.pick("服务商", "Provider")) }
                th { (language.pick("项目", "Program")) } th { (language.pick("发票截止", "Invoices up to")) }
                th class="number" { (language.pick("笔数", "Lines")) } th class="number" { (language.pick("核销金额", "Gross")) }
                th class="number" { (language.pick("追回", "Clawed back")) } th class="number" { (language.pick("应付净额", "Net")) }
                th { (language.pick("拨付", "Paid")) } th { (language.pick("下载", "Download")) }
            } }
            tbody {
                @for (settlement, name) in &statements.items {
                    tr {
                        td { (settlement.settlement_id) }
                        td { (name) div class="code" { (settlement.provider_credit_code) } }
                        td { (program_of(settlement.program)) } td { (settlement.up_to) }
                        td class="number" { (settlement.redemption_ids.len()) }
                        td class="number" { (total(settlement.gross)) }
                        td class="number" { (total(settlement.clawed_back)) }
                        td class="number" { (signed_yuan(settlement.net())) }
                        td {
                            @if let Some(payment) = &settlement.payment {
                                (payment.paid_on) div class="code" { (payment.bank_reference) }
                            } @else {
                                span class="hint" { (language.pick("待拨付", "Not yet")) }
                            }
                        }
                        td {
                            a href={"/downloads/statement?id=" (settlement.settlement_id) "&format=xlsx"} { "XLSX" }
                            " · "
                            a href={"/downloads/statement?id=" (settlement.settlement_id) "&format=csv"} { "CSV" }
                        }
                    }
                }
                @if statements.items.is_empty() {
                    tr { td colspan="10" { (language.pick("尚无结算单。", "No statements yet.")) } }
                }
            }
        }
        (pager(language, next_statements))
        @for (rules, summary) in &summaries {
            h2 { (program_name(language, rules)) " · " (summary.period.first) " – " (summary.period.last) }
            table class="list" {
                thead { tr {
                    th { (language.pick("服务商", "Provider")) } th class="number" { (language.pick("笔数", "Claims")) }
                    th class="number" { (language.pick("已核销", "Redeemed")) } th class="number" { (language.pick("已红冲", "Reversed")) }
                    th class="number" { (language.pick("已驳回", "Rejected")) } th class="number" { (language.pick("已结算", "Settled")) }
                } }
                tbody {
                    @for (code, name, totals) in &summary.providers {
                        tr {
                            td { (name) div class="code" { (code) } }
                            td class="number" { (totals.redemptions) }
                            td class="number" { (total(totals.redeemed)) }
                            td class="number" { (total(totals.reversed)) }
                            td class="number" { (total(totals.rejected)) }
                            td class="number" { (total(totals.settled)) }
                        }
                    }
                    @if summary.providers.is_empty() {
                        tr { td colspan="6" { (language.pick("本期尚无核销。", "No claims in this period yet.")) } }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &chrome(&viewer, uri.to_string().as_str()),
        Section::Providers,
        language.pick("服务商", "Providers"),
        body,
    ))
}

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

pub(super) fn chrome<'a>(viewer: &'a Viewer, here: &'a str) -> Chrome<'a> {
    Chrome {
        language: viewer.language,
        role: viewer.session.role,
        csrf: &viewer.session.csrf,
        here,
    }
}

/// A signed amount with thousands separators: a statement's net may be negative.
fn signed_yuan(amount: Decimal) -> String {
    let magnitude = crate::domain::money::Total::try_from(amount.abs())
        .map(|total| total.to_grouped_string())
        .unwrap_or_else(|_| amount.abs().to_string());
    if amount.is_sign_negative() && !amount.is_zero() {
        format!("-{magnitude}")
    } else {
        magnitude
    }
}

fn pager(language: Language, next: Option<String>) -> Markup {
    html! {
        @if let Some(next) = next {
            p class="pager" { a class="button secondary" href=(next) { (language.pick("下一页 →", "Next page →")) } }
        }
    }
}

/// A malformed query field: 400, naming the field, as gRPC would.
pub(super) fn bad_field(field: &'static str, error: InputError, language: Language) -> PageError {
    PageError::engine(EngineError::Ledger(error.in_field(field)), language)
}

/// An optional query field: absent or empty is `None`; anything else must parse, or the page
/// is refused naming the field.
fn optional<T>(
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
pub(super) fn optional_program(
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

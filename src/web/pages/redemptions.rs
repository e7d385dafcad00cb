//! The redemptions (`/redemptions`): filtered by program, provider, enterprise and invoice
//! dates, 50 a page; and the redemptions table the enterprise's page shows too.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::query::{optional, optional_program};
use super::{ROWS_PER_PAGE, chrome, pager};
use crate::domain::credit_code::CreditCode;
use crate::domain::dates::parse_date;
use crate::domain::ids::RedemptionId;
use crate::domain::model::{Actor, Redemption};
use crate::engine::RedemptionFilter;
use crate::web::i18n::Language;
use crate::web::layout::{self, Section, encode, program_name, yuan};
use crate::web::{Console, PageError, Viewer};

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

pub(super) fn redemption_table(language: Language, redemptions: &[Redemption]) -> Markup {
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

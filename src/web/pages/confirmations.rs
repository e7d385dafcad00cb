//! The claims waiting for their enterprise's confirmation (`/confirmations`): accepted, not yet
//! confirmed, under a program whose policy lets the bureau approve a claim only once its
//! enterprise confirmed it. The bureau may return one for correction from its row.

use axum::extract::{OriginalUri, Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::names::Names;
use super::providers::program_of;
use super::query::optional;
use super::{ROWS_PER_PAGE, refused, shell};
use crate::domain::ids::RedemptionId;
use crate::domain::model::{Actor, Redemption, RedemptionStatus};
use crate::domain::policy::Policy;
use crate::engine::RedemptionFilter;
use crate::web::counts::{awaits_confirmation, confirmation_asked};
use crate::web::fragments::{
    LastAction, cell, claim_cell, column, enterprise_cell, last_action, markup_cell, number_cell,
    number_column, provider_cell, row, row_form, table,
};
use crate::web::i18n::Language;
use crate::web::layout::{Section, yuan};
use crate::web::paging::{paged_here, pager_here};
use crate::web::{Console, PageError, Viewer};

#[derive(Deserialize)]
pub struct ConfirmationsQuery {
    after: Option<String>,
}

pub async fn confirmations(
    State(console): State<Console>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<ConfirmationsQuery>,
) -> Result<Markup, PageError> {
    let after = optional(
        "after",
        query.after.as_deref(),
        RedemptionId::parse,
        viewer.language,
    )?;
    render(&console, &viewer, &uri.to_string(), after, None)
}

/// One page of the waiting claims after `after`, what the last form did on top.
pub fn render(
    console: &Console,
    viewer: &Viewer,
    here: &str,
    after: Option<RedemptionId>,
    last: Option<&LastAction>,
) -> Result<Markup, PageError> {
    let language = viewer.language;
    let reader = console.engine.reader();
    let policy = reader.policy();
    let filter = RedemptionFilter {
        status: Some(RedemptionStatus::Accepted),
        ..RedemptionFilter::default()
    };
    let page = reader
        .list_redemptions(filter, Actor::Bureau, after, ROWS_PER_PAGE)
        .map_err(refused(language))?;
    let waiting: Vec<&Redemption> = page
        .items
        .iter()
        .filter(|claim| awaits_confirmation(policy, claim))
        .collect();
    let names = Names::of_claims(reader, waiting.iter().copied()).map_err(refused(language))?;
    let forms = viewer.is_bureau().then_some(viewer.session.csrf.as_str());
    let body = html! {
        (last_action(last))
        (explanation(language, policy))
        (waiting_table(language, policy, &names, &waiting, forms))
        (pager_here(language, &paged_here("/confirmations", here), page.next_after.as_deref(), waiting.len(), None))
    };
    let title = language.pick("待企业确认的核销", "Claims awaiting confirmation");
    Ok(shell(viewer, here, Section::Confirmations, title, body))
}

fn explanation(language: Language, policy: &Policy) -> Markup {
    html! {
        @if confirmation_asked(policy) {
            p class="hint" { (language.pick(
                "以下核销须由企业确认后，数据局方可审核通过。企业可在控制台确认或提出异议。",
                "The bureau may approve these claims only once their enterprise confirmed them; the enterprise confirms or disputes them in the console."
            )) }
        } @else {
            p class="hint" { (language.pick("现行政策的项目均无需企业确认。", "No program of the policy in force asks the enterprise to confirm its claims.")) }
        }
    }
}

/// A waiting claim a row (the claim linking to its page, the enterprise and provider named and
/// linking to theirs); with `forms` (the bureau's CSRF secret), a return for correction.
fn waiting_table(
    language: Language,
    policy: &Policy,
    names: &Names,
    claims: &[&Redemption],
    forms: Option<&str>,
) -> Markup {
    let mut columns = vec![
        column(language.pick("核销编号", "Redemption")),
        column(language.pick("项目", "Program")),
        column(language.pick("企业", "Enterprise")),
        column(language.pick("服务商", "Provider")),
        column(language.pick("发票号码", "Invoice")),
        number_column(language.pick("发票金额（元）", "Amount (yuan)")),
        number_column(language.pick("补贴（元）", "Subsidy (yuan)")),
        column(language.pick("提交时间", "Claimed")),
    ];
    if forms.is_some() {
        columns.push(column(language.pick("退回补正", "Return for correction")));
    }
    let rows = claims.iter().map(|claim| {
        let (enterprise, provider) = (claim.enterprise_credit_code, claim.provider_credit_code);
        let mut cells = vec![
            claim_cell(claim.redemption_id),
            cell(program_of(policy, language, claim.program)),
            enterprise_cell(names.enterprise(&enterprise), enterprise),
            provider_cell(names.provider(&provider), provider),
            cell(&claim.invoice.number),
            number_cell(yuan(claim.invoice.amount)),
            number_cell(yuan(claim.subsidy)),
            cell(claim.redeemed_at.format("%Y-%m-%d %H:%M")),
        ];
        if let Some(csrf) = forms {
            cells.push(markup_cell(return_form(language, csrf, claim)));
        }
        row(cells)
    });
    let empty = language.pick("没有待企业确认的核销。", "No claim awaits confirmation.");
    table(&columns, rows, Some(empty))
}

fn return_form(language: Language, csrf: &str, claim: &Redemption) -> Markup {
    let id = claim.redemption_id.to_string();
    let fields = html! {
        input type="hidden" name="from" value="confirmations";
        input name="reason" required maxlength="500"
            placeholder=(language.pick("退回原因", "Why"))
            aria-label=(language.pick("退回原因", "Reason"));
    };
    let button =
        html! { button type="submit" class="small danger" { (language.pick("退回", "Return")) } };
    row_form(
        "/actions/return-redemption",
        csrf,
        ("redemption_id", &id),
        fields,
        button,
    )
}

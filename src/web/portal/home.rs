//! The enterprise's own page (`/my`): its record, its balance under each program, and its
//! vouchers with the providers bound to them.

use axum::extract::{OriginalUri, State};
use chrono::Datelike;
use maud::{Markup, html};

use super::{EnterpriseViewer, shell};
use crate::domain::model::Enterprise;
use crate::engine::VoucherFilter;
use crate::web::i18n::Language;
use crate::web::layout::Section;
use crate::web::pages::enterprise::{balance_cards, voucher_table};
use crate::web::pages::enterprises::balances_of;
use crate::web::pages::query::day_of_year;
use crate::web::pages::{ENTERPRISE_VOUCHERS_MAX, refused};
use crate::web::{Console, PageError};

pub async fn home(
    State(console): State<Console>,
    viewer: EnterpriseViewer,
    OriginalUri(uri): OriginalUri,
) -> Result<Markup, PageError> {
    let language = viewer.viewer.language;
    let reader = console.engine.reader();
    let own = viewer.own;
    let enterprise = reader
        .enterprise_for(&own, viewer.actor())
        .map_err(refused(language))?;
    let on_date = day_of_year(reader, reader.today().year());
    let balances = balances_of(reader, &own, on_date).map_err(refused(language))?;
    let mine = VoucherFilter {
        enterprise_credit_code: Some(own),
        program: None,
    };
    let vouchers = reader
        .list_vouchers(mine, None, ENTERPRISE_VOUCHERS_MAX)
        .map_err(refused(language))?;
    let body = html! {
        (record(language, &enterprise))
        h2 { (language.pick("额度", "Balances")) }
        (balance_cards(language, reader.policy().programs(), &balances))
        h2 { (language.pick("本企业的券", "Vouchers")) }
        (voucher_table(language, reader.policy(), &vouchers.items))
        @if vouchers.next_after.is_some() {
            p class="hint" { (language.pick("仅显示前 200 张券。", "The first 200 vouchers only.")) }
        }
        p {
            a class="button" href="/my/applications" { (language.pick("申领券", "Apply for a voucher")) }
            " "
            a class="button secondary" href="/my/claims" { (language.pick("核销确认", "Claims in my name")) }
        }
    };
    Ok(shell(
        &viewer,
        &uri,
        Section::Home,
        enterprise.name.as_str(),
        body,
    ))
}

/// The enterprise's record as the bureau registered it.
fn record(language: Language, enterprise: &Enterprise) -> Markup {
    html! {
        p class="code" {
            (language.pick("统一社会信用代码 ", "Credit code ")) (enterprise.credit_code)
            " · " (language.pick("登记于 ", "registered ")) (enterprise.registered_at.format("%Y-%m-%d"))
        }
    }
}

//! The pages that read: overview, enterprises, one enterprise, redemptions, providers, one
//! settlement statement, and of the enterprise's part applications, claims awaiting
//! confirmation, unbound vouchers and public notices, a module each (the last ones also carry
//! the bureau's forms for their rows); and who did what: the audit page and, under each page of
//! one record, its history (`history`). Each handler parses its query once into checked
//! values (`query`: a bad one is refused naming the field), reads from the engine's reader,
//! and draws from `fragments`.
//! What they share is here: the page sizes, the shell's view of the reader, the year picker,
//! and the refusal a failed read becomes.

pub(super) mod applications;
mod audit;
mod claim;
pub(super) mod confirmations;
pub(super) mod enterprise;
pub(super) mod enterprises;
pub(super) mod history;
pub(super) mod names;
pub(super) mod notices;
mod overview;
mod print;
mod provider;
mod providers;
pub(super) mod query;
mod redemptions;
pub(super) mod review;
pub(super) mod settlements;
pub(super) mod vouchers;

use chrono::Datelike;
use maud::{Markup, html};

use super::counts::{NavCounts, nav_counts};
use super::i18n::Language;
use super::layout::{self, Chrome, Section};
use super::{PageError, Viewer};
use crate::domain::model::Actor;
use crate::domain::policy::Policy;
use crate::engine::EngineError;

pub use applications::applications;
pub use audit::audit;
pub use claim::claim;
pub use confirmations::confirmations;
pub use enterprise::enterprise;
pub use enterprises::enterprises;
pub use notices::{notice, notices};
pub use overview::overview;
pub use print::{print_statement, print_stylesheet};
pub use provider::provider;
pub(in crate::web) use providers::net_in_words;
pub use providers::providers;
pub use redemptions::redemptions;
pub(super) use redemptions::{RedemptionsQuery, filter_of as redemption_filter_of};
pub use review::review;
pub use settlements::settlement;
pub use vouchers::{unbound_vouchers, voucher, voucher_providers};

/// Rows on one page of a list.
pub const ROWS_PER_PAGE: usize = 50;
/// Vouchers shown on an enterprise's page.
pub const ENTERPRISE_VOUCHERS_MAX: usize = 200;
/// Providers shown on the providers page.
pub const PROVIDERS_MAX: usize = 1000;

/// A signed-in page: `body` under `title` in the shell, for `viewer`, at `uri` (where the
/// language toggle comes back to).
pub(super) fn shell(
    viewer: &Viewer,
    uri: impl std::fmt::Display,
    section: Section,
    title: &str,
    body: Markup,
) -> Markup {
    layout::page(&chrome(viewer, &uri.to_string()), section, title, body)
}

pub(super) fn chrome<'a>(viewer: &'a Viewer, here: &'a str) -> Chrome<'a> {
    Chrome {
        language: viewer.language,
        actor: viewer.session.actor,
        csrf: &viewer.session.csrf,
        here,
        counts: counts_for(viewer),
    }
}

/// The navigation's counts for this reader: an enterprise's own, or the bureau's (kept while
/// the ledger does not change). A count that cannot be read is left out, not the page.
fn counts_for(viewer: &Viewer) -> NavCounts {
    let console = &viewer.console;
    let reader = console.engine.reader();
    let counted = match viewer.session.actor {
        actor @ Actor::Enterprise(_) => nav_counts(reader, actor),
        _ => console.counts.bureau_counts(reader),
    };
    counted.unwrap_or_else(|error| {
        tracing::warn!(%error, "the navigation's counts could not be read");
        NavCounts::default()
    })
}

/// What a read the page needed and could not make answers instead: the ledger's refusal,
/// in the reader's language.
pub(super) fn refused(language: Language) -> impl Fn(EngineError) -> PageError + Copy {
    move |error| PageError::engine(error, language)
}

/// The form choosing the year a page shows, one of the policy term's.
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

//! The pages that read: overview, enterprises, one enterprise, redemptions, providers, a
//! module each. Each parses its query once into checked values (`query`: a bad one is refused
//! naming the field), reads from the engine's reader, and draws. What they share is here: the
//! page sizes, the shell's view of the reader, the pager.

mod enterprise;
mod enterprises;
mod overview;
mod providers;
pub(super) mod query;
mod redemptions;

use maud::{Markup, html};

use super::Viewer;
use super::i18n::Language;
use super::layout::Chrome;

pub use enterprise::enterprise;
pub use enterprises::enterprises;
pub use overview::overview;
pub use providers::providers;
pub use redemptions::redemptions;

/// Rows on one page of a list.
pub const ROWS_PER_PAGE: usize = 50;
/// Vouchers shown on an enterprise's page.
pub const ENTERPRISE_VOUCHERS_MAX: usize = 200;
/// Providers shown on the providers page.
pub const PROVIDERS_MAX: usize = 1000;

pub(super) fn chrome<'a>(viewer: &'a Viewer, here: &'a str) -> Chrome<'a> {
    Chrome {
        language: viewer.language,
        role: viewer.session.role,
        csrf: &viewer.session.csrf,
        here,
    }
}

fn pager(language: Language, next: Option<String>) -> Markup {
    html! {
        @if let Some(next) = next {
            p class="pager" { a class="button secondary" href=(next) { (language.pick("下一页 →", "Next page →")) } }
        }
    }
}

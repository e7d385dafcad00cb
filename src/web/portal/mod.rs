//! The enterprise's own pages: its record, balances and vouchers (`home`), its applications and
//! the form to apply (`applications`), and the claims made in its name with its confirmation
//! or dispute (`claims`).
//!
//! Every handler takes an [`EnterpriseViewer`], so only an enterprise's session reaches them,
//! and reads by the credit code its token is bound to (`EnterpriseViewer::own`), never by one
//! the request names: each read goes through the reader with `Actor::Enterprise`, which pins
//! its filters to that code or answers another's record as one that does not exist, and each
//! form is parsed by `api::enterprise` in that actor's name.

mod applications;
mod claims;
mod home;

use maud::Markup;

use super::EnterpriseViewer;
use super::layout::Section;

pub use applications::{applications, apply};
pub use claims::{claims, confirm, dispute};
pub use home::home;

/// Where an enterprise's session starts.
pub const HOME: &str = "/my";

/// One of the enterprise's pages in the shell, with its own navigation.
fn shell(
    viewer: &EnterpriseViewer,
    here: impl std::fmt::Display,
    section: Section,
    title: &str,
    body: Markup,
) -> Markup {
    super::pages::shell(&viewer.viewer, here, section, title, body)
}

//! What is wrong with one piece of outside input, before anyone knows which field it came from.
//!
//! Parsers in the domain return an [`InputError`]; the boundary that knows the field's name
//! turns it into a [`super::error::LedgerError::InvalidArgument`] with [`InputError::in_field`].

use std::fmt;

use super::error::LedgerError;
use super::reason::ReasonCode;

/// A reason from the closed list and a sentence a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub reason: ReasonCode,
    pub message: String,
}

impl InputError {
    pub fn new(reason: ReasonCode, message: impl Into<String>) -> InputError {
        InputError {
            reason,
            message: message.into(),
        }
    }

    /// Names the field this input came from.
    pub fn in_field(self, field: &'static str) -> LedgerError {
        LedgerError::InvalidArgument {
            field,
            reason: self.reason,
            message: self.message,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({})", self.message, self.reason)
    }
}

impl std::error::Error for InputError {}

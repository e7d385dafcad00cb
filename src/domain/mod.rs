//! The pure core: money, credit codes, invoice numbers, dates, the policy, and the ledger
//! state machine. Nothing in here does I/O, reads a clock, or knows of gRPC or sled; time comes
//! in as a [`dates::Clock`]. Everything outside depends on this module, never the reverse.

pub mod command;
pub mod credit_code;
pub mod dates;
pub mod error;
pub mod event;
pub mod ids;
pub mod input;
pub mod invoice;
pub mod ledger;
pub mod model;
pub mod money;
pub mod policy;
pub mod reason;
pub mod reason_text;
pub mod text;
pub mod typed;

//! The Qidong voucher ledger (启东市 算力券 / 租赁券): a gRPC system of record for AI subsidies.
//!
//! Data flows one way: [`api`] checks a request and turns it into a domain command, the
//! [`engine`] applies it to the [`domain`] state machine on a single writer and records the
//! resulting events through the [`store`] in one durable batch, and only then answers.
//! See ARCHITECTURE.md for the codemap.

pub mod api;
pub mod attempts;
pub mod client;
pub mod config;
pub mod connections;
pub mod daemon;
pub mod domain;
pub mod engine;
pub mod metrics;
pub mod private_files;
pub mod report;
pub mod store;
pub mod web;
pub mod wire;

/// Code generated from `proto/` by `build.rs`.
pub mod proto {
    pub mod voucher {
        pub mod v1 {
            #![allow(clippy::all, missing_docs)]
            tonic::include_proto!("voucher.v1");

            /// The encoded descriptor set, for server reflection.
            pub const FILE_DESCRIPTOR_SET: &[u8] =
                include_bytes!(concat!(env!("OUT_DIR"), "/voucher_descriptor.bin"));
        }
    }
    pub mod google {
        pub mod r#type {
            #![allow(clippy::all, missing_docs)]
            tonic::include_proto!("google.r#type");
        }
    }
}

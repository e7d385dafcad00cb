//! Compiles the wire contract with protox (pure Rust: no system `protoc`), generates the tonic
//! client and server, and writes the encoded descriptor set that server reflection serves.

use std::path::PathBuf;

const PROTO_FILES: &[&str] = &["voucher/v1/ledger.proto"];
const PROTO_INCLUDE: &str = "proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_INCLUDE}");
    let descriptor_set = protox::compile(PROTO_FILES, [PROTO_INCLUDE])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let encoded = prost::Message::encode_to_vec(&descriptor_set);
    std::fs::write(out_dir.join("voucher_descriptor.bin"), encoded)?;
    tonic_prost_build::configure()
        // tonic-prost's codec, but bytes that are not a message are INVALID_ARGUMENT (issue 12).
        .codec_path("crate::api::codec::LedgerCodec")
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptor_set)?;
    Ok(())
}

//! Export lines: an event as an auditor receives it (`ListEvents`, `voucherctl events export`,
//! backups), and back. Only Python's standard library is needed to check one
//! (`tools/check_chain.py`).

use sha2::{Digest, Sha256};

/// One event as an auditor receives it: the stored record's JSON with its own SHA-256 added
/// as a last field. To check a line, remove the final `,"sha256":"…"` and hash what is left:
/// `{"sequence":…,"previous_sha256":…,"event":{…}}` is exactly the stored record.
pub fn export_line(record_bytes: &[u8]) -> String {
    let text = std::str::from_utf8(record_bytes).expect("records are JSON text");
    let body = text.strip_suffix('}').expect("a record is a JSON object");
    format!(
        "{body},\"sha256\":\"{}\"}}",
        hex::encode(Sha256::digest(record_bytes))
    )
}

/// The stored record bytes and the declared SHA-256 back from an export line.
pub fn parse_export_line(line: &str) -> Option<(Vec<u8>, String)> {
    const SUFFIX_LENGTH: usize = ",\"sha256\":\"\"}".len() + 64;
    let split = line.len().checked_sub(SUFFIX_LENGTH)?;
    let (body, suffix) = (line.get(..split)?, line.get(split..)?);
    let declared = suffix.strip_prefix(",\"sha256\":\"")?.strip_suffix("\"}")?;
    if declared.len() != 64 || !declared.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    Some((format!("{body}}}").into_bytes(), declared.to_owned()))
}

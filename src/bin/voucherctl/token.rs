//! Where the bearer token comes from: `--token` or `--token-file` on the command line, else
//! `VOUCHER_TOKEN` or `VOUCHER_TOKEN_FILE`, else the `./voucher-data/bureau.token` voucherd
//! writes on first start. The token's origin is kept so that a refusal can name it, never the
//! secret itself.

use std::path::Path;

use clap::ArgMatches;
use clap::parser::ValueSource;
use voucher_ledger::wire::BearerToken;

use crate::{Cli, Failure};

/// The token voucherd writes on first start, looked for when no token is given.
const DEFAULT_TOKEN_FILE: &str = "voucher-data/bureau.token";

/// The bearer token and where it came from (named in hints, never the secret itself).
pub struct Token {
    pub bearer: BearerToken,
    pub origin: String,
}

fn came_from_command_line(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

/// `--token` or `--token-file` on the command line beat either in the environment, which
/// beat `./voucher-data/bureau.token`.
pub fn resolve(cli: &Cli, matches: &ArgMatches) -> Result<Token, Failure> {
    let token_flag = came_from_command_line(matches, "token");
    let file_flag = came_from_command_line(matches, "token_file");
    match (&cli.token, &cli.token_file) {
        _ if token_flag && file_flag => Err(Failure::Usage(
            "give --token or --token-file, not both".to_owned(),
        )),
        (_, Some(path)) if file_flag => token_from_file(path),
        (Some(secret), _) if token_flag => token_from_text(secret, "--token"),
        (Some(secret), _) => token_from_text(secret, "VOUCHER_TOKEN"),
        (None, Some(path)) => token_from_file(path),
        (None, None) => default_token(),
    }
}

fn default_token() -> Result<Token, Failure> {
    let path = Path::new(".").join(DEFAULT_TOKEN_FILE);
    if path.is_file() {
        return token_from_file(&path);
    }
    Err(Failure::Usage(format!(
        "no token: give --token, --token-file, VOUCHER_TOKEN or VOUCHER_TOKEN_FILE \
         (or run where {} exists)",
        path.display()
    )))
}

fn token_from_file(path: &Path) -> Result<Token, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Failure::Usage(format!(
            "cannot read token file {}: {error}",
            path.display()
        ))
    })?;
    token_from_text(&text, &path.display().to_string())
}

fn token_from_text(text: &str, origin: &str) -> Result<Token, Failure> {
    let secret = text.trim();
    if secret.is_empty() {
        return Err(Failure::Usage(format!("the token from {origin} is empty")));
    }
    let bearer = BearerToken::new(secret).map_err(|_| {
        Failure::Usage(format!(
            "the token from {origin} holds characters a token cannot have"
        ))
    })?;
    Ok(Token {
        bearer,
        origin: origin.to_owned(),
    })
}

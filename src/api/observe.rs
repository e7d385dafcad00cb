//! One log line and one set of metrics per request: which RPC, from which address, which token
//! (its id) and role asked, the outcome code and the latency. Secrets never appear.

use crate::wire::code_name;
use std::sync::OnceLock;
use std::time::Instant;

use tonic::{Code, Response, Status};

use crate::domain::ids::TokenId;
use crate::domain::model::Role;

/// A request being served.
pub struct Call {
    rpc: &'static str,
    started: Instant,
    role: OnceLock<Role>,
    address: OnceLock<std::net::SocketAddr>,
    token: OnceLock<TokenId>,
}

impl Call {
    pub fn start(rpc: &'static str) -> Call {
        Call {
            rpc,
            started: Instant::now(),
            role: OnceLock::new(),
            address: OnceLock::new(),
            token: OnceLock::new(),
        }
    }

    /// Where the request came from, when the transport says.
    pub fn set_address(&self, address: Option<std::net::SocketAddr>) {
        if let Some(address) = address {
            let _ = self.address.set(address);
        }
    }

    /// Which token asked, once it is known.
    pub fn set_token(&self, token_id: TokenId) {
        let _ = self.token.set(token_id);
    }

    /// The token that asked, if one did (a provider may come by certificate alone).
    pub fn token(&self) -> Option<TokenId> {
        self.token.get().copied()
    }

    /// Who is asking, once authenticated.
    pub fn set_role(&self, role: Role) {
        let _ = self.role.set(role);
    }

    /// Logs and counts the answer, and hands it back.
    pub fn finish<T>(self, result: Result<Response<T>, Status>) -> Result<Response<T>, Status> {
        let latency = self.started.elapsed();
        let code = match &result {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        };
        let code_name = code_name(code);
        crate::metrics::request(self.rpc, code_name, latency);
        let role = self
            .role
            .get()
            .map_or("unauthenticated", |role| role.as_str());
        let latency_ms = latency.as_secs_f64() * 1000.0;
        let address = self
            .address
            .get()
            .map(ToString::to_string)
            .unwrap_or_default();
        let token = self
            .token
            .get()
            .map(ToString::to_string)
            .unwrap_or_default();
        match code {
            Code::Internal | Code::Unknown | Code::DataLoss => {
                tracing::error!(
                    rpc = self.rpc,
                    %address,
                    %token,
                    role,
                    code = code_name,
                    latency_ms,
                    "request"
                )
            }
            _ => tracing::info!(
                rpc = self.rpc,
                %address,
                %token,
                role,
                code = code_name,
                latency_ms,
                "request"
            ),
        }
        result
    }
}

//! Console sign-ins: a random session id in an HttpOnly, SameSite=Strict cookie, mapped here to
//! the token that signed in, whom it speaks for (its role, and an enterprise's own credit
//! code), a CSRF secret and an expiry.
//!
//! Sessions live in memory only: a restart signs everyone out, which costs a bureau clerk one
//! paste of a token and keeps no secret on disk. The map is bounded, and so is each token's
//! share of it: a token's new sign-in past [`SESSIONS_PER_TOKEN_MAX`] ends that token's own
//! oldest session, so no token (an auditor's, say) can sign everyone else out by filling the
//! map (see SECURITY.md). When the map is full all the same, the session closest to expiry makes room.
//! Every request re-reads the token, so revoking it ends its sessions at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::ids::TokenId;
use crate::domain::model::{Actor, Role};

/// The cookie holding the session id.
pub const SESSION_COOKIE: &str = "voucher_session";
/// The cookie holding the sign-in form's CSRF secret (before there is a session).
pub const LOGIN_CSRF_COOKIE: &str = "voucher_login_csrf";
/// The most sessions held at once.
pub const SESSIONS_MAX: usize = 1024;
/// The most sessions one token holds at once (a clerk's browsers and tabs).
pub const SESSIONS_PER_TOKEN_MAX: usize = 8;

/// What a session id stands for.
#[derive(Clone, Debug)]
pub struct Session {
    pub token_id: TokenId,
    pub role: Role,
    /// Whom the token speaks for: an enterprise's session reads only its own records, by the
    /// credit code its token is bound to, never by one a page or form names.
    pub actor: Actor,
    /// Every form carries it; a POST without it changes nothing.
    pub csrf: String,
    expires_at: Instant,
}

/// The sessions of this process.
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
    lifetime: Duration,
}

impl Sessions {
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            by_id: Mutex::new(HashMap::new()),
            lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new session for `token_id`, speaking for `actor`; returns its id.
    pub fn open(&self, token_id: TokenId, actor: Actor) -> String {
        let id = random_secret();
        let session = Session {
            token_id,
            role: actor.role(),
            actor,
            csrf: random_secret(),
            expires_at: Instant::now() + self.lifetime,
        };
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, session| session.expires_at > now);
        let own: Vec<(&String, &Session)> = sessions
            .iter()
            .filter(|(_, session)| session.token_id == token_id)
            .collect();
        if own.len() >= SESSIONS_PER_TOKEN_MAX
            && let Some(oldest) = own
                .iter()
                .min_by_key(|(_, session)| session.expires_at)
                .map(|(id, _)| (*id).clone())
        {
            sessions.remove(&oldest);
        }
        if sessions.len() >= SESSIONS_MAX
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, session)| session.expires_at)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), session);
        assert!(sessions.len() <= SESSIONS_MAX);
        id
    }

    /// The live session with this id, if any.
    pub fn find(&self, id: &str) -> Option<Session> {
        let mut sessions = self.lock();
        match sessions.get(id) {
            Some(session) if session.expires_at > Instant::now() => Some(session.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves a map that is still a valid map.
        self.by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// 256 random bits as hex: session ids and CSRF secrets.
pub fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u64) -> TokenId {
        TokenId::parse(&format!("T{n:012}")).expect("a token id")
    }

    #[test]
    fn a_session_is_found_until_closed_and_the_map_stays_bounded() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let first = sessions.open(token(1), Actor::Bureau);
        assert_eq!(sessions.find(&first).map(|s| s.role), Some(Role::Bureau));
        for n in 0..SESSIONS_MAX as u64 {
            sessions.open(token(n + 2), Actor::Auditor);
        }
        assert_eq!(sessions.lock().len(), SESSIONS_MAX);
        assert!(sessions.find(&first).is_none(), "the oldest made room");
        let last = sessions.open(token(9), Actor::Auditor);
        sessions.close(&last);
        assert!(sessions.find(&last).is_none());
    }

    #[test]
    fn one_token_holds_at_most_its_share_and_evicts_only_its_own() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let clerk = sessions.open(TokenId::FIRST, Actor::Bureau);
        let flooder = TokenId::FIRST.next();
        let first = sessions.open(flooder, Actor::Auditor);
        for _ in 0..SESSIONS_MAX * 2 {
            sessions.open(flooder, Actor::Auditor);
        }
        assert!(
            sessions.find(&clerk).is_some(),
            "another token's session stays"
        );
        assert!(sessions.find(&first).is_none(), "the flooder's oldest went");
        let held = sessions
            .lock()
            .values()
            .filter(|s| s.token_id == flooder)
            .count();
        assert_eq!(held, SESSIONS_PER_TOKEN_MAX);
    }

    #[test]
    fn an_expired_session_is_gone() {
        let sessions = Sessions::new(Duration::ZERO);
        let id = sessions.open(token(1), Actor::Bureau);
        assert!(sessions.find(&id).is_none());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}

//! The database's schema, created and migrated by voucherd itself at open.
//!
//! Each migration is a SQL file in `migrations/`, numbered, applied once and in order inside
//! one transaction together with its row in `voucher_schema_migrations`; an advisory lock
//! makes two voucherd starting at once migrate one after the other. A database migrated by a
//! newer build (a version this build does not know) is refused: this build would not know
//! what the newer one's tables mean.

use super::link::{Link, postgres_error};
use crate::store::StoreError;

/// Every migration this build knows: (version, SQL), in order, versions from 1 without gaps.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/V1__entries.sql")),
    (2, include_str!("migrations/V2__writer_lease.sql")),
];

/// The advisory lock migrations take: any fixed number, the same in every build.
const MIGRATION_LOCK: i64 = 0x0076_6f75_6368_6572; // "voucher" in ASCII

/// The newest schema version this build knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// The database's schema version: 0 where voucherd never migrated it.
pub(super) fn version(link: &Link) -> Result<i32, StoreError> {
    link.run(|shared| async move {
        let writer = shared.writer().await?;
        let row = writer
            .client
            .query_one(
                "SELECT to_regclass('voucher_schema_migrations') IS NOT NULL",
                &[],
            )
            .await
            .map_err(postgres_error)?;
        if !row.get::<_, bool>(0) {
            return Ok(0);
        }
        let row = writer
            .client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM voucher_schema_migrations",
                &[],
            )
            .await
            .map_err(postgres_error)?;
        Ok(row.get(0))
    })
}

/// Brings the schema to this build's version; returns the versions it applied.
pub(super) fn migrate(link: &Link) -> Result<Vec<i32>, StoreError> {
    let described = link.described.clone();
    link.run(move |shared| async move {
        let mut writer = shared.writer().await?;
        let transaction = writer.client.transaction().await.map_err(postgres_error)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(postgres_error)?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS voucher_schema_migrations (\
                 version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await
            .map_err(postgres_error)?;
        let current: i32 = transaction
            .query_one(
                "SELECT coalesce(max(version), 0) FROM voucher_schema_migrations",
                &[],
            )
            .await
            .map_err(postgres_error)?
            .get(0);
        if current > latest() {
            return Err(StoreError::Postgres(format!(
                "the database {described} was migrated by a newer build (schema version {current}; this build knows up to {}): run the newer build",
                latest()
            )));
        }
        let mut applied = Vec::new();
        for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
            transaction.batch_execute(sql).await.map_err(postgres_error)?;
            transaction
                .execute(
                    "INSERT INTO voucher_schema_migrations (version, applied_at) VALUES ($1, now())",
                    &[version],
                )
                .await
                .map_err(postgres_error)?;
            applied.push(*version);
        }
        transaction.commit().await.map_err(postgres_error)?;
        Ok(applied)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (index, (version, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, index as i32 + 1);
            assert!(
                sql.contains("CREATE TABLE"),
                "migration {version} creates something"
            );
        }
        assert_eq!(latest(), 2);
    }
}

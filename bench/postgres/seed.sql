-- Seed for the redemption benchmark. Run with psql, giving the number of enterprises:
--   psql -v enterprises=1000 -f seed.sql
-- Enterprise i (1..N) has credit code '9111' || lpad(i, 14, '0') (18 characters), one cap
-- account for cap period '2026' with cap 2,000,000.00 fully committed to one voucher
-- (voucher_id = i) of face value 2,000,000.00. Starts from empty tables, so every run starts from
-- the same state. With 10.00 invoices (5.00 subsidy) an enterprise takes 400,000 redemptions
-- before its cap refuses, so a benchmark run sees no refusals (run.sh checks).
\set ON_ERROR_STOP on
\if :{?enterprises}
\else
  \set enterprises 1000
\endif

TRUNCATE redemptions, vouchers, cap_accounts RESTART IDENTITY;

INSERT INTO cap_accounts (enterprise, cap_period, cap, committed, redeemed)
SELECT '9111' || lpad(i::text, 14, '0'), '2026', 2000000.00, 2000000.00, 0
  FROM generate_series(1, :enterprises) AS i;

INSERT INTO vouchers (voucher_id, enterprise, cap_period, face_value, redeemed)
SELECT i, '9111' || lpad(i::text, 14, '0'), '2026', 2000000.00, 0
  FROM generate_series(1, :enterprises) AS i;

VACUUM ANALYZE cap_accounts;
VACUUM ANALYZE vouchers;
-- Not redemptions: VACUUM or ANALYZE of the empty table records "0 pages, 0 rows", and every
-- backend's cached plan for redeem()'s invoice-number lookup is then a sequential scan, which
-- gets slower with every redemption (throughput fell from 1,700/s to 650/s within 60 s). After
-- TRUNCATE the table counts as never analyzed and the planner uses the UNIQUE index, as it
-- would on a bureau's table with history; autovacuum analyzes it as it grows. run.sh checks
-- that no run scans redemptions sequentially.

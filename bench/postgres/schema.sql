-- Voucher ledger redemption as a PostgreSQL web app would do it.
-- PostgreSQL 15. Money is numeric(14,2) throughout, never float.
-- Loaded by bench/postgres/run.sh into an empty database; safe to load again (drops first).

SET client_min_messages = warning;

DROP FUNCTION IF EXISTS redeem(bigint, text, text, date, numeric);
DROP TABLE IF EXISTS redemptions;
DROP TABLE IF EXISTS vouchers;
DROP TABLE IF EXISTS cap_accounts;

-- One row per enterprise and cap period: the enterprise's running totals under its cap.
-- For 算力券 the cap period is the calendar year (China time), e.g. '2026'.
CREATE TABLE cap_accounts (
    enterprise  text          NOT NULL,            -- 统一社会信用代码, 18 characters
    cap_period  text          NOT NULL,
    cap         numeric(14,2) NOT NULL CHECK (cap >= 0),
    committed   numeric(14,2) NOT NULL DEFAULT 0,  -- face value of vouchers issued under the cap
    redeemed    numeric(14,2) NOT NULL DEFAULT 0,  -- subsidy granted under the cap
    PRIMARY KEY (enterprise, cap_period),
    CHECK (committed <= cap),
    CHECK (redeemed <= cap)
);

CREATE TABLE vouchers (
    voucher_id  bigint        PRIMARY KEY,
    enterprise  text          NOT NULL,
    cap_period  text          NOT NULL,
    face_value  numeric(14,2) NOT NULL CHECK (face_value > 0),
    redeemed    numeric(14,2) NOT NULL DEFAULT 0,
    FOREIGN KEY (enterprise, cap_period) REFERENCES cap_accounts (enterprise, cap_period),
    CHECK (redeemed <= face_value)
);
CREATE INDEX vouchers_enterprise ON vouchers (enterprise, cap_period);

CREATE TABLE redemptions (
    redemption_id  bigserial     PRIMARY KEY,
    invoice_number text          NOT NULL UNIQUE,   -- redeemed once, ever
    enterprise     text          NOT NULL,
    voucher_id     bigint        NOT NULL REFERENCES vouchers (voucher_id),
    invoice_date   date          NOT NULL,
    amount         numeric(14,2) NOT NULL CHECK (amount > 0),
    subsidy        numeric(14,2) NOT NULL CHECK (subsidy > 0),
    created_at     timestamptz   NOT NULL DEFAULT now()
);

-- redeem(): one redemption of a 算力券 (50%, half up to the fen) in one transaction.
--
-- Returns (status, subsidy, remaining):
--   'OK'                        subsidy granted; remaining = what is left of the cap
--   'REPLAYED'                  the same request again (same invoice, voucher, date, amount):
--                               the first redemption's subsidy, nothing changes
--   'ALREADY_EXISTS'            invoice number already used by a different request
--   'INVALID_AMOUNT'            amount <= 0, or not a whole number of fen
--   'SUBSIDY_ROUNDS_TO_ZERO'    round(amount * 0.50, 2) = 0.00
--   'OUTSIDE_POLICY_TERM'       invoice not dated 2026-05-14 .. 2028-05-13
--   'INVOICE_DATE_IN_FUTURE'    invoice dated after today, China time
--   'NO_CAP_ACCOUNT'            enterprise has no cap account for the invoice's year
--   'VOUCHER_NOT_FOUND'
--   'ENTERPRISE_MISMATCH'       voucher belongs to another enterprise or cap period
--   'CAP_EXCEEDED'              redeemed + subsidy > cap; remaining = cap - redeemed
--   'VOUCHER_BALANCE_EXCEEDED'  voucher redeemed + subsidy > face value; remaining = face - redeemed
-- Refusals are returned, not raised, so pgbench does not count them as failures and the
-- transaction commits having changed nothing. Nothing in this function raises on purpose; an
-- error (e.g. a lost connection) rolls the whole redemption back.
--
-- Lock order, the same in every call so two redemptions never deadlock:
-- cap account row (FOR UPDATE), then voucher row (FOR UPDATE). The invoice-number check runs
-- after the cap account lock; the UNIQUE index with ON CONFLICT DO NOTHING catches the one race
-- the check cannot (the same invoice number at the same instant for two enterprises).
CREATE FUNCTION redeem(
    p_voucher_id     bigint,
    p_enterprise     text,
    p_invoice_number text,
    p_invoice_date   date,
    p_amount         numeric,
    OUT status       text,
    OUT subsidy      numeric(14,2),
    OUT remaining    numeric(14,2)
) LANGUAGE plpgsql AS $$
DECLARE
    v_period  text := to_char(p_invoice_date, 'YYYY');
    v_account cap_accounts%ROWTYPE;
    v_voucher vouchers%ROWTYPE;
    v_prior   redemptions%ROWTYPE;
    v_id      bigint;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 OR p_amount <> round(p_amount, 2) THEN
        status := 'INVALID_AMOUNT'; RETURN;
    END IF;
    subsidy := round(p_amount * 0.50, 2);          -- numeric round is half away from zero
    IF subsidy = 0 THEN
        status := 'SUBSIDY_ROUNDS_TO_ZERO'; subsidy := NULL; RETURN;
    END IF;
    IF p_invoice_date < DATE '2026-05-14' OR p_invoice_date > DATE '2028-05-13' THEN
        status := 'OUTSIDE_POLICY_TERM'; subsidy := NULL; RETURN;
    END IF;
    IF p_invoice_date > (now() AT TIME ZONE 'Asia/Shanghai')::date THEN
        status := 'INVOICE_DATE_IN_FUTURE'; subsidy := NULL; RETURN;
    END IF;

    -- 1. lock the enterprise's total
    SELECT * INTO v_account FROM cap_accounts
     WHERE enterprise = p_enterprise AND cap_period = v_period
       FOR UPDATE;
    IF NOT FOUND THEN
        status := 'NO_CAP_ACCOUNT'; subsidy := NULL; RETURN;
    END IF;

    -- 2. the invoice number is unused (or this is the same request again)
    SELECT * INTO v_prior FROM redemptions WHERE invoice_number = p_invoice_number;
    IF FOUND THEN
        IF v_prior.voucher_id = p_voucher_id AND v_prior.enterprise = p_enterprise
           AND v_prior.invoice_date = p_invoice_date AND v_prior.amount = p_amount THEN
            status := 'REPLAYED'; subsidy := v_prior.subsidy;
        ELSE
            status := 'ALREADY_EXISTS'; subsidy := NULL;
        END IF;
        RETURN;
    END IF;

    -- 3. lock the voucher
    SELECT * INTO v_voucher FROM vouchers WHERE voucher_id = p_voucher_id FOR UPDATE;
    IF NOT FOUND THEN
        status := 'VOUCHER_NOT_FOUND'; subsidy := NULL; RETURN;
    END IF;
    IF v_voucher.enterprise <> p_enterprise OR v_voucher.cap_period <> v_period THEN
        status := 'ENTERPRISE_MISMATCH'; subsidy := NULL; RETURN;
    END IF;

    -- 4. the cap first, then the voucher
    IF v_account.redeemed + subsidy > v_account.cap THEN
        status := 'CAP_EXCEEDED'; remaining := v_account.cap - v_account.redeemed;
        subsidy := NULL; RETURN;
    END IF;
    IF v_voucher.redeemed + subsidy > v_voucher.face_value THEN
        status := 'VOUCHER_BALANCE_EXCEEDED'; remaining := v_voucher.face_value - v_voucher.redeemed;
        subsidy := NULL; RETURN;
    END IF;

    -- 5. insert the redemption
    INSERT INTO redemptions (invoice_number, enterprise, voucher_id, invoice_date, amount, subsidy)
    VALUES (p_invoice_number, p_enterprise, p_voucher_id, p_invoice_date, p_amount, subsidy)
    ON CONFLICT (invoice_number) DO NOTHING
    RETURNING redemption_id INTO v_id;
    IF v_id IS NULL THEN
        -- another transaction committed this invoice number after step 2 (we waited for it)
        SELECT * INTO v_prior FROM redemptions WHERE invoice_number = p_invoice_number;
        IF v_prior.voucher_id = p_voucher_id AND v_prior.enterprise = p_enterprise
           AND v_prior.invoice_date = p_invoice_date AND v_prior.amount = p_amount THEN
            status := 'REPLAYED'; subsidy := v_prior.subsidy;
        ELSE
            status := 'ALREADY_EXISTS'; subsidy := NULL;
        END IF;
        RETURN;
    END IF;

    -- 6. update both totals
    UPDATE cap_accounts SET redeemed = redeemed + subsidy
     WHERE enterprise = p_enterprise AND cap_period = v_period;
    UPDATE vouchers SET redeemed = redeemed + subsidy
     WHERE voucher_id = p_voucher_id;

    status := 'OK';
    remaining := v_account.cap - v_account.redeemed - subsidy;
END;
$$;

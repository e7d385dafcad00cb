-- Fencing: exactly one voucherd writes. The writer holds this one row; every batch's
-- transaction locks it FOR SHARE with the writer's epoch and holder, so a writer whose lease
-- was taken (a new epoch) can never commit. A taker updates the row only once the lease has
-- expired, and waits for any transaction holding it to end first.
CREATE TABLE writer_lease (
    id int PRIMARY KEY CHECK (id = 1),
    epoch bigint NOT NULL,
    holder text NOT NULL,
    address text,
    expires_at timestamptz NOT NULL
);

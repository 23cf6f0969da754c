-- The global request limits are taken in leases (Capstan.Infrastructure.Security.LeasedRateLimiter): a replica takes
-- several hits of a window at once and spends them locally. `granted` is how many hits the last take of a row got,
-- read back by the same statement (PostgreSQL 15 cannot return a row's old value).
ALTER TABLE platform.rate_limits ADD COLUMN granted bigint NOT NULL DEFAULT 1;

-- Counters only: after a crash they start again from zero, which a limit can afford, and no request writes WAL for them.
ALTER TABLE platform.rate_limits SET UNLOGGED;

-- The agents' claim (ClaimJob) takes the oldest queued job from jobs_queued_idx and the oldest job whose lease ran out
-- from jobs_lease_idx. jobs_claimable_idx alone also holds every job under a live lease, which each claim had to step
-- over, so claims slowed down as the number of jobs in flight grew. Built in the migration's transaction (where
-- CONCURRENTLY cannot run): the queue's partial indexes cover few rows, so the write lock is short.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX jobs_queued_idx ON access.jobs (created_at, id) WHERE status = 'queued';
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX jobs_lease_idx ON access.jobs (claim_expires_at) WHERE status = 'claimed';

-- Task notifications (reference sindri.md §8.12): each finished execution records whether its e-mail to the task's
-- notifyEmails went out. NULL = not handled yet; SENT, FAILED (reason in notification_error), NONE (not asked for, or
-- no recipients) or RETRYING (a failed attempt a retry follows: the retry's outcome is the one reported).
ALTER TABLE fleet.task_executions ADD COLUMN notification_status text;
ALTER TABLE fleet.task_executions ADD COLUMN notification_error text;
ALTER TABLE fleet.task_executions ADD COLUMN notified_at timestamptz;

-- Executions that finished before notifications existed are not mailed about now.
UPDATE fleet.task_executions SET notification_status = 'NONE' WHERE notification_status IS NULL;

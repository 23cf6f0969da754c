-- A budget's COST alert rule is enabled: disabling it is how a user silences the budget's alerts (the cost analysis
-- raises them; the per-instance alert evaluator leaves budget rules alone).
UPDATE fleet.alert_rules SET enabled = true
WHERE type = 'COST' AND NOT enabled AND id IN (SELECT alert_rule_id FROM fleet.budgets WHERE alert_rule_id IS NOT NULL);

"""The workflow app (Django): worklists, recall, review, escalation, audit trail, scorecards, reports."""

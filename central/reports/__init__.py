"""Central's reports: revenue and traffic of a plaza-local day, by plaza, lane, class,
payment method or hour, counted with the lanes' own rule (contracts.reconcile)."""

"""bench: the command line (``bench``), cluster orchestration, scenarios and reports. It only observes and orchestrates."""

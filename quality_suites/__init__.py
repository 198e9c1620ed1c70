"""Great Expectations suites for the silver and gold tables (see issue 9)."""

"""SQL pipeline sources: Databricks' pipeline SQL dialect, parsed at the header, run by Spark SQL.

`split` cuts a file into statements (notebook cells included) and substitutes `${key}`; `parser`
turns each statement's header into a record (`statements`); `rewrite` finds the dataset and file
reads of a query body; `register` hands the records to the shim's registry, with query functions
that `bind` evaluates through the active resolver. See docs/sql.md.
"""

from harness.sql.register import load_sql_file, parse_file

__all__ = ["load_sql_file", "parse_file"]

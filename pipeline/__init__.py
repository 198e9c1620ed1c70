"""The reference e-commerce medallion pipeline (issue 6): Databricks DLT sources plus their helpers.

On Databricks the pipeline root (this folder) is on ``sys.path``, so the sources import
``utils.*``; tests import the same modules as ``pipeline.utils.*``.
"""

"""Plain helpers of the pipeline: rules, configuration and the DataFrame -> DataFrame transforms.

Nothing here imports `dlt`: the layer modules in ``transformations/`` wire these functions into
datasets, and tests call them directly on small DataFrames.
"""

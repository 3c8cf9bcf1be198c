"""Thin RQ adapters: ids in, load, call the pipeline, persist, report progress."""

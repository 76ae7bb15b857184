"""OpenCommissioning analytics: the statistical methods and the indicator engines.

A pure Python package: it must never import Django or any of the web apps (an
import-linter contract and a unit test enforce this), so the same code runs in a
notebook, a batch job or a Spark driver.
"""

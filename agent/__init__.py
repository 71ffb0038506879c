"""framesift: an edge active-learning agent.

Importing this package has no side effects; see ``agent.cli.main`` for the entry point.
"""

__version__ = "0.1.0"

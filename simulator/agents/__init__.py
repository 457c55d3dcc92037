"""The model's agents. Users and creators are views on their rows of columnar state:
iterate, filter and inspect them with Mesa's AgentSet while the step runs on arrays."""

from .creators import Creator
from .merchants import Merchant
from .platforms import Platform
from .users import User

__all__ = ["User", "Creator", "Merchant", "Platform"]

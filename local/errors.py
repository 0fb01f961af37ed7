"""What the stack raises when it cannot start or reset, in a module of its own so that the
server can catch it without importing the stack (which imports the server)."""

from __future__ import annotations


class StackError(RuntimeError):
    """The stack cannot start: a tenant file, the template or DynamoDB is at fault."""

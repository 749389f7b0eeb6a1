"""The one error type the tasks show to a user: a single line saying what to do."""


class DfrError(Exception):
    """A failure the user can act on. str(error) is one line: what failed and what to do."""


class Busy(DfrError):
    """Another operation held the environment's lock for longer than the caller would wait."""

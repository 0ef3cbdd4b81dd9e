"""The labs' self-checks: one object per exercise, one ``.check(answer)`` call each.

A check either prints a ✓ line or raises with a message that says *which* input
failed and *where* (the first mismatching index). An exercise not yet attempted
raises ``NotImplementedError`` -- nothing else -- so an unsolved lab fails exactly
at its exercises. A failed check shows its message without the traceback; set
``PY2PTX_FULL_TRACEBACK=1`` to see the traceback (:mod:`.core`).

Usage in a lab::

    from py2ptx.exercises import lab01, time_budget
    lab01.early_exit.check(bubble_sort_early_exit)
    with time_budget(60, "what to look at if it runs too long"):
        ...  # a cell that times the student's code

``core`` holds what every lab shares; ``lab01`` ... ``lab05`` each hold one lab's checks.
``lab01`` here is the lab's exercises (``lab01.early_exit``, ...), defined at the end of
the module of the same name, which stays importable as ``py2ptx.exercises.lab01`` through
:func:`importlib.import_module`.
"""

from .core import (
    Exercise,
    ExerciseFailed,
    MultipleChoice,
    TimeBudgetExceeded,
    full_traceback,
    time_budget,
)
from .lab01 import count_inversions, lab01
from .lab02 import WHY_SLOWER, lab02
from .lab03 import lab03
from .lab04 import lab04
from .lab05 import WHY_STALE, lab05

__all__ = ["WHY_SLOWER", "WHY_STALE", "Exercise", "ExerciseFailed", "MultipleChoice",
           "TimeBudgetExceeded", "count_inversions", "full_traceback", "lab01", "lab02", "lab03",
           "lab04", "lab05", "time_budget"]

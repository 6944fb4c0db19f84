"""What more search could still bring: the chance that the next trials gain beyond the validation noise.

A trial's score at a rung (after part of its budget) tells much about its score at the full budget. On
MNIST's svc the full-budget score is the last rung's plus about 0.99 points, give or take 0.12: both
are measured on the same validation images, so their errors move together. The trials that reach
their full budget teach that step for every rung they passed: from the half of them that scored best
at that rung (at least three), its median, and its spread from the median absolute deviation,
widened for few trials. The best half, because the trials that could still change the answer are
at the top, and a weak trial that an early rung let through (when ASHA had few to compare it with)
takes steps of another size.

Every trial that ends is then given its chance of having been a gain: of beating the score of the
last gain by more than one standard error of the validation split (``search.core.plateau``'s noise).
A full-budget trial's chance is 1 or 0; a trial stopped at a rung gets the chance that its rung's
score plus the learnt step clears that mark. The search ends once the chance that any of the next
``horizon`` trials is a gain, each taken at the mean chance of the last ``horizon`` trials, falls
below ``end_chance``: the trials the sampler proposes now stopped bringing candidates that could
change the answer. A trial at a rung whose chance is below ``end_chance`` need not go on to its full
budget either: ``promising`` says so, and the search stops it there instead of spending a
full-budget fit to confirm what its rung already told.

A rung's chances are checked against what came of them: every trial that went on past a rung adds
the chance that rung gave it to what the rung foretold, and what became of it (1 or 0 at its full
budget, else its chance where it stopped) to what came true; the rung's chances are then scaled by
(came true + 1) / (foretold + 1). On MNIST's svc, where a few trials near the top reach their full
budget, the steps from the first rungs are learnt from three trials and their spread is uncertain:
a rung that let twenty trials through at 10% each, none of which came to a gain, no longer counts
its 2% trials as 2%. A rung whose trials do better than foretold gets larger chances.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from search.core.plateau import standard_error

DEFAULT_END_CHANCE = 0.05
"""The chance of a gain in the next ``HORIZON`` trials below which the search ends."""
HORIZON = 15
"""Trials looked back on, and ahead to."""
MIN_FULL_BUDGET = 3
"""Full-budget trials needed before a rung's step is trusted (and before the search may end)."""
CHECK_WEIGHT = 1.0
"""The chance of a gain assumed foretold and come true at every rung before any trial went past it."""


@dataclass
class Outlook:
    """Learns each rung's step to the full budget and each ended trial's chance of a gain."""

    validation_size: int
    end_chance: float = DEFAULT_END_CHANCE
    """0: never ends the search, never stops a trial."""
    horizon: int = HORIZON
    best: float | None = None
    anchor: float | None = None
    """The score of the last gain larger than one standard error."""
    steps: dict[float, list[tuple[float, float]]] = field(default_factory=dict)
    """Per budget below the full one: (score there, full-budget score minus it), one per full-budget trial."""
    scores: dict[str, dict[float, float]] = field(default_factory=dict)
    """Per trial still running: its score at each budget reported so far."""
    full: dict[str, float] = field(default_factory=dict)
    """Per trial still running that reached its full budget: its score there."""
    chances: list[float] = field(default_factory=list)
    """Per ended trial whose chance was known, in the order they ended: its chance of having been a gain."""
    full_budget: int = 0
    target: float | None = None
    """A score to beat instead of the last gain's (another family's best, for ``search.core.allocation``)."""
    checks: dict[float, list[float]] = field(default_factory=dict)
    """Per budget below the full one: [chances foretold there, what came of them], over the trials that went on."""

    @property
    def mark(self) -> float | None:
        """The score a trial must beat to be a gain: the last gain's plus one standard error, or ``target``."""
        if self.target is not None:
            return self.target
        return None if self.anchor is None else self.anchor + standard_error(self.anchor, self.validation_size)

    def report(self, trial_id: str, budget: float, score: float, full: bool) -> None:
        """A trial's score after ``budget`` (epochs, or training images); ``full``: its whole budget."""
        if full:
            self.full[trial_id] = score
        else:
            self.scores.setdefault(trial_id, {})[budget] = score

    def chance(self, budget: float, score: float) -> float | None:
        """The chance that a trial scoring ``score`` after ``budget`` ends as a gain; None while unknown."""
        foretold = self._foretold(budget, score)
        if foretold is None:
            return None
        told, came = self.checks.get(budget, (0.0, 0.0))
        return min(1.0, foretold * (came + CHECK_WEIGHT) / (told + CHECK_WEIGHT))

    def _foretold(self, budget: float, score: float) -> float | None:
        """The chance from the rung's learnt step alone, before the check against what came of the rung's chances."""
        pairs = sorted(self.steps.get(budget, []), reverse=True)
        if self.mark is None or self.full_budget < MIN_FULL_BUDGET or len(pairs) < MIN_FULL_BUDGET:
            return None
        steps = [step for _, step in pairs[: max(MIN_FULL_BUDGET, (len(pairs) + 1) // 2)]]
        middle = statistics.median(steps)
        spread = 1.4826 * statistics.median(abs(step - middle) for step in steps)
        spread = max(spread, 1 / self.validation_size) * math.sqrt(1 + 1 / len(steps))
        z = (self.mark - score - middle) / spread
        return 0.5 * math.erfc(z / math.sqrt(2))

    def promising(self, trial_id: str) -> bool:
        """Whether the trial, at its latest budget, may still end as a gain (unknown counts as may)."""
        reported = self.scores.get(trial_id)
        if not reported or self.end_chance <= 0 or trial_id in self.full:
            return True
        budget = max(reported)
        chance = self.chance(budget, reported[budget])
        return chance is None or chance >= self.end_chance

    def end(self, trial_id: str) -> None:
        """The trial ended: learn from it if it reached its full budget, and count its chance of a gain."""
        reported = self.scores.pop(trial_id, {})
        final = self.full.pop(trial_id, None)
        if final is None:
            if reported:  # stopped at a rung (a trial that never reported tells nothing)
                budget = max(reported)
                chance = self.chance(budget, reported[budget])
                if chance is not None:
                    self._check(reported, passed=sorted(reported)[:-1], came=chance)
                    self.chances.append(chance)
            return
        if self.mark is not None:
            self._check(reported, passed=sorted(reported), came=float(final > self.mark))
        self.chances.append(float(self.mark is None or final > self.mark))
        self.full_budget += 1
        for budget, earlier in reported.items():
            self.steps.setdefault(budget, []).append((earlier, final - earlier))
        self.best = final if self.best is None else max(self.best, final)
        if self.mark is None or final > self.mark:
            self.anchor = final

    def _check(self, reported: dict[float, float], passed: list[float], came: float) -> None:
        """What came of a trial (``came``: its chance of a gain where it ended) against what its rungs foretold."""
        for budget in passed:
            foretold = self._foretold(budget, reported[budget])
            if foretold is not None:
                told, came_true = self.checks.get(budget, (0.0, 0.0))
                self.checks[budget] = [told + foretold, came_true + came]

    def chance_ahead(self) -> float:
        """The chance that any of the next ``horizon`` trials is a gain, from the last ``horizon`` trials'."""
        recent = self.chances[-self.horizon :]
        if len(recent) < self.horizon:
            return 1.0
        return 1 - (1 - statistics.fmean(recent)) ** self.horizon

    @property
    def reached(self) -> bool:
        """Whether more search is unlikely to change the answer."""
        if self.end_chance <= 0 or self.full_budget < MIN_FULL_BUDGET:
            return False
        return self.chance_ahead() < self.end_chance

    def explain(self) -> str:
        """Why the search ended, in one sentence."""
        noise = standard_error(self.anchor or 0.0, self.validation_size)
        return (
            f"converged: the chance that the next {self.horizon} trials beat {self.anchor:.2%} by more than one "
            f"standard error of the {self.validation_size:,}-image validation split ({noise * 100:.2f} points) "
            f"fell to {self.chance_ahead():.1%}, below {self.end_chance:.0%}; best {self.best:.2%}"
        )

"""Several families searched at once: how many trials each runs at once, and which is clearly behind.

Every family keeps its own search (its own study, ASHA on its own rungs, its own end rule); above
them, the allocator compares what they reached in one unit, the validation accuracy of trials that
reached their family's full budget, on the same validation split.

- A family is **clearly behind** once it has ``MIN_FULL_TRIALS`` full-budget trials, its best beats
  its article's settings by more than one standard error (so that its row of the seed article's table
  is already an improvement), and the leader's best beats its best by more than ``BEHIND_Z`` standard
  errors of the difference of two accuracies on the validation split. Its search is then ended (its
  best so far is still retrained and tested), and its trial slots go to the others. A family whose
  best is its article's settings goes on until its own end rule ends it.
- A family is also behind once its own trials make it **unlikely to overtake** the leader: the chance
  that any of its next ``HORIZON`` trials beats the leader's best, learnt from its trials as its own
  end rule learns (``search.core.outlook``: each rung's step to the full budget), falls below its
  ``--end-chance``. A family whose trials are cheap and many (keras_mlp beside cnn) is then called
  off long before the difference of the two bests reaches ``BEHIND_Z`` standard errors.
- **Trial slots**: as many trials at once as the cluster's CPUs hold threads for. While more families
  search than there are slots, each runs one trial (they share the cores); otherwise every family
  gets an equal part, and what remains goes to the leaders, best first. Before any family has a
  full-budget trial, the leaders are the families the seed article found best (their known figures).
- **CPU priority**: the leader's trials run at nice 0, the other searching families' at ``NICE_BEHIND``.
  Where the families' trials outnumber the cores (five single-thread trials on 2 cores), the OS then
  gives the leader's threads a core each and the others share what is left; where the cores suffice,
  nothing changes. A family without a result counts at its article's figure here (on MNIST the cnn
  leads from the start), so that the family expected to win is not slowed to a fifth of a core while
  the others' cheaper trials report first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from search.core.outlook import DEFAULT_END_CHANCE, HORIZON, MIN_FULL_BUDGET, Outlook
from search.core.plateau import standard_error

MIN_FULL_TRIALS = 2
"""Full-budget trials a family has before it may be called behind: the article's settings and one more."""
BEHIND_Z = 3.0
"""Standard errors of the difference by which the leader must be ahead."""
NICE_BEHIND = 10
"""The nice value of the trials of families other than the leader: about a tenth of a core's time
where they compete with the leader's threads for one."""


@dataclass(frozen=True)
class EndedTrial:
    """What the outlook needs of a trial that ended: its scores on the way, and at its full budget."""

    scores: tuple[tuple[float, float], ...]
    """(budget, score) at each report before its full budget."""
    final: float | None = None
    """Its score at the full budget (None: stopped at a rung)."""


@dataclass(frozen=True)
class Standing:
    """Where one family's search stands."""

    family: str
    best: float | None
    """Best validation accuracy of its trials that reached their full budget (None: none yet)."""
    full_trials: int
    """Its trials that reached their full budget."""
    prior: float = 0.0
    """What the family is expected to reach before it has a result (the article's figure)."""
    article: float | None = None
    """Validation accuracy of the article's settings, once they reached their full budget."""
    ended: tuple[EndedTrial, ...] = ()
    """Its trials that ended, in the order they started."""
    end_chance: float = DEFAULT_END_CHANCE
    """Its search's ``--end-chance`` (0: never called off for being unlikely to overtake)."""

    def chance_to_overtake(self, target: float, validation_size: int) -> float | None:
        """The chance that any of its next trials beats ``target``; None while its trials tell too little."""
        outlook = Outlook(validation_size, self.end_chance, target=target)
        for number, trial in enumerate(self.ended):
            for budget, score in trial.scores:
                outlook.report(str(number), budget, score, full=False)
            if trial.final is not None:
                outlook.report(str(number), math.inf, trial.final, full=True)
            outlook.end(str(number))
        if outlook.full_budget < MIN_FULL_BUDGET or len(outlook.chances) < outlook.horizon:
            return None
        return outlook.chance_ahead()

    def beats_article(self, validation_size: int) -> bool:
        """Whether its best beats its article's settings beyond the noise (True when those never finished)."""
        if self.article is None:
            return True
        return self.best is not None and self.best - self.article > standard_error(self.best, validation_size)

    @property
    def rank_key(self) -> tuple[float, float]:
        """Its order for the trial slots: its best so far (a family without one last), then its article's figure."""
        return (self.best if self.best is not None else -1.0, self.prior)

    @property
    def expected(self) -> float:
        """Its best so far, or before it has one, what it is expected to reach (its article's figure)."""
        return self.best if self.best is not None else self.prior


def clearly_behind(standings: list[Standing], validation_size: int) -> dict[str, str]:
    """The families clearly behind the leader, each with the reason in a sentence."""
    scored = [s for s in standings if s.best is not None]
    if len(scored) < 2:
        return {}
    leader = max(scored, key=lambda s: s.best)
    behind = {}
    for standing in scored:
        if standing is leader or standing.full_trials < MIN_FULL_TRIALS:
            continue
        if not standing.beats_article(validation_size):
            continue
        gap = leader.best - standing.best
        error = difference_error(leader.best, standing.best, validation_size)
        if gap > BEHIND_Z * error:
            behind[standing.family] = (
                f"clearly behind {leader.family}: its best validation accuracy {standing.best:.2%} after "
                f"{standing.full_trials} full-budget trials trails {leader.best:.2%} by {gap:.2%} "
                f"({gap / error:.1f} standard errors)"
            )
            continue
        chance = standing.chance_to_overtake(leader.best, validation_size) if standing.end_chance > 0 else None
        if chance is not None and chance < standing.end_chance:
            behind[standing.family] = (
                f"unlikely to overtake {leader.family}: the chance that its next {HORIZON} trials beat "
                f"{leader.best:.2%} fell to {chance:.1%}, below {standing.end_chance:.0%}; its best "
                f"{standing.best:.2%} after {standing.full_trials} full-budget trials"
            )
    return behind


def difference_error(first: float, second: float, size: int) -> float:
    """Standard error of the difference of two accuracies, each measured on ``size`` validation samples."""
    variance = (first * (1 - first) + second * (1 - second)) / max(size, 1)
    return max(math.sqrt(variance), 1.0 / max(size, 1))


def trial_slots(standings: list[Standing], slots: int) -> dict[str, int]:
    """Trials at once per searching family: one each while they outnumber ``slots``; else equal parts,
    the remainder to the leaders, best first."""
    if not standings:
        return {}
    if len(standings) >= slots:
        return {s.family: 1 for s in standings}
    share, extra = divmod(slots, len(standings))
    ranked = sorted(standings, key=lambda s: s.rank_key, reverse=True)
    return {s.family: share + (1 if place < extra else 0) for place, s in enumerate(ranked)}


def cpu_priorities(standings: list[Standing]) -> dict[str, int]:
    """The nice value of each searching family's trials: 0 for the one expected to win, ``NICE_BEHIND`` for
    the others (see the module)."""
    if not standings:
        return {}
    leader = max(standings, key=lambda s: (s.expected, s.prior))
    return {s.family: 0 if s is leader else NICE_BEHIND for s in standings}

"""What one ask costs Optuna's TPE as a study grows, and what it costs ours (search/core/bounded_tpe.py).

    python bench/sampler_cost.py [--trials 200 2000 10000] [--asks 20] [--windows 1000 300]

For each size, a study of the sleep family's space (bench/sleep_family.py) is filled with that many
finished trials, shaped as an ASHA search leaves them (two in three pruned at a rung, the rest complete),
in a journal file as a search keeps it; then each sampler (``TPESampler`` as Optuna 5 sets it up, with
the constant liar, and ``BoundedTPESampler`` with each ``--windows``) answers ``--asks`` asks, each told at
once. Prints the milliseconds per ask. Only the sampler differs; no Ray.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState, create_trial

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from search.core.bounded_tpe import WINDOW, BoundedTPESampler  # noqa: E402

SPACE = {"x": FloatDistribution(-1.0, 1.0), "y": FloatDistribution(1e-3, 10.0, log=True), "z": IntDistribution(1, 8)}


def filled_study(trials: int, path: Path) -> str:
    """A journal at ``path`` holding ``trials`` finished trials; its path."""
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="bench", storage=storage, direction="maximize")
    rng = np.random.default_rng(0)
    made = []
    for number in range(trials):
        params = {"x": rng.uniform(-1, 1), "y": float(np.exp(rng.uniform(np.log(1e-3), np.log(10)))),
                  "z": int(rng.integers(1, 9))}  # fmt: skip
        score = 1 - (params["x"] - 0.3) ** 2 - 0.01 * (params["z"] - 5) ** 2
        steps = {step: score - 0.1 / step for step in range(1, 1 + number % 3 + 1)}
        state = TrialState.PRUNED if number % 3 else TrialState.COMPLETE
        made.append(create_trial(params=params, distributions=SPACE, intermediate_values=steps, state=state,
                                 value=score if state == TrialState.COMPLETE else None))  # fmt: skip
    study.add_trials(made)
    return str(path)


def ms_per_ask(sampler: optuna.samplers.BaseSampler, journal: str, asks: int) -> float:
    study = optuna.load_study(study_name="bench", storage=JournalStorage(JournalFileBackend(journal)), sampler=sampler)
    study.optimize(lambda trial: 0.0, n_trials=2)  # TPE's first asks set up its search space
    started = time.perf_counter()
    for _ in range(asks):
        trial = study.ask(SPACE)
        study.tell(trial, trial.params["x"])
    return 1000 * (time.perf_counter() - started) / asks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[200, 2000, 10000])
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--windows", type=int, nargs="+", default=[WINDOW], help="BoundedTPESampler's windows")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bounded_names = [f"BoundedTPESampler (window {window}), ms per ask" for window in args.windows]
    print("| finished trials | TPESampler, ms per ask | " + " | ".join(bounded_names) + " |")
    print("| --- " * (2 + len(args.windows)) + "|")
    with tempfile.TemporaryDirectory() as folder:
        for trials in args.trials:
            journals = [
                filled_study(trials, Path(folder) / f"{side}-{trials}.journal") for side in range(1 + len(args.windows))
            ]
            costs = [ms_per_ask(optuna.samplers.TPESampler(seed=0), journals[0], args.asks)]
            for window, journal in zip(args.windows, journals[1:], strict=True):
                costs.append(ms_per_ask(BoundedTPESampler(seed=0, window=window), journal, args.asks))
            print(f"| {trials} | " + " | ".join(f"{cost:.1f}" for cost in costs) + " |", flush=True)


if __name__ == "__main__":
    main()

"""``hashgnn experiment NAME``: the plan of one experiment, with the checks that need every experiment, and its run
(the output folder's provenance and wall time around the experiment's own ``run``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hashgnn.errors import ConfigError
from hashgnn.experiments import plan as _plan
from hashgnn.experiments.plan import EXPERIMENTS, Options, Plan, write_meta
from hashgnn.experiments.registry import get_experiment
from hashgnn.experiments.status import run_status, status_markdown
from hashgnn.io_utils import atomic_write_text


def make_plan(options: Options) -> Plan:
    """The plan of ``options.name``, every setting checked before any work. The options only some experiments take
    are checked here, where all experiments are known: ``--jobs`` > 1 for the ones that do not keep their fitted
    models, ``--from-results`` for the ones that can be built from another experiment's rows."""
    experiment = get_experiment(options.name)
    if options.jobs > 1 and experiment.keeps_models:
        parallel = [n for n in EXPERIMENTS if not get_experiment(n).keeps_models]
        raise ConfigError(f"--jobs {options.jobs}: {options.name} trains its runs one by one; --jobs applies to "
                          f"{', '.join(parallel)}")
    if options.source is not None and experiment.check_source is None:
        takers = [n for n in EXPERIMENTS if get_experiment(n).check_source is not None]
        raise ConfigError(f"--from-results is only for {', '.join(takers)}, not {options.name}")
    return _plan.make_plan(options, experiment)


def run_experiment(options: Options) -> tuple[Path, str]:
    """Run one experiment; returns ``(output folder, markdown table)`` (with ``options.status``: the table of
    its planned runs and their state, nothing trained or written)."""
    plan = make_plan(options)
    if options.status:
        return plan.out, status_markdown(plan, run_status(plan))
    wall_path = plan.out / "wall_time.txt"
    earlier = wall_path.read_text() if wall_path.is_file() and not options.fresh else ""
    write_meta(plan)
    t0 = time.perf_counter()
    text = plan.experiment.run(plan)
    seconds = time.perf_counter() - t0
    # one line per invocation, like command.txt: a resumed or shared folder keeps every process's wall time
    command = plan.options.command or " ".join(sys.argv)
    atomic_write_text(wall_path, f"{earlier}{seconds:.1f} s  {command}\n")
    return plan.out, text

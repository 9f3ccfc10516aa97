"""The tools that drive and measure the tiers: what the ``mlp-tiers`` command runs.

No tier imports anything here. The tools use the tiers (through the ``Tier`` contract of
``shared.contract``) and the common interface in ``shared/``; the command line sits on top.

- running one tier: ``registry`` (the tiers by name), ``runner`` (build, train, evaluate,
  write a run folder), ``report`` (run folders), ``pictures``, ``inference`` (predict and
  evaluate from a checkpoint), ``threads`` (the thread policy), ``console`` (terminal output);
- measuring: ``parity`` (the tolerance table and the lockstep engine), ``bench`` and
  ``bench_worker`` (timings beside the peers of ``peers/``);
- studying: ``concepts`` (the concept table), ``study`` (the side-by-side page);
- ``cli``: the command line, on top of all of them (imported only by the entry points).
"""

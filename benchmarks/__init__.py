"""The benchmark suite of issue 6: how fast microtensor trains recurrent networks,
measured against the same networks written by hand in numpy (and in PyTorch, when it
is installed).

Run everything, and write ``benchmarks/RESULTS.md``::

    python -m benchmarks            # the full run (several minutes)
    python -m benchmarks --quick    # fewer rounds, unrolls up to T = 1,000

Modules, in the order a run uses them:

- ``environment``: one BLAS thread, set before numpy loads; what the machine is;
- ``workloads``: W1-W4 and the seeded weights and data every variant starts from;
- ``reference``: the hand-written numpy forward/backward that all ratios divide by;
- ``variants``: the microtensor and PyTorch versions of each workload;
- ``agreement``: every variant must match the reference's loss, gradients and update;
- ``timing``, ``memory``, ``profiling``: interleaved medians, peak memory of deep
  unrolls, and where microtensor's time goes;
- ``report``: the tables of ``RESULTS.md``.

This file imports nothing, so ``python -m benchmarks`` can pin the BLAS threads
before numpy is first imported.
"""

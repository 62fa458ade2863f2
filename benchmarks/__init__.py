"""The benchmark suite: how fast microtensor trains recurrent networks,
measured against the same networks written by hand in numpy (and in PyTorch, when it
is installed).

Run everything, and write ``benchmarks/RESULTS.md``; or check quickly, printing only;
or compare with the recorded report (microtensor's ratios more than 15% worse are flagged)::

    python -m benchmarks            # the full run (several minutes)
    python -m benchmarks --quick    # about a minute: fewer rounds, unrolls up to T = 1,000
    python -m benchmarks --quick --compare benchmarks/RESULTS.md
    python -m benchmarks --quick --cpu-time --compare benchmarks/RESULTS.md  # a busy machine

Modules, in the order a run uses them:

- ``environment``: one BLAS thread, set before numpy loads; what the machine is;
- ``workloads``: W1-W4 and the seeded weights and data every variant starts from;
- ``reference``: the hand-written numpy forward/backward that all ratios divide by;
- ``variants``: the microtensor and PyTorch versions of each workload;
- ``agreement``: every variant must match the reference's loss, gradients and update;
- ``timing``, ``per_op``, ``memory``, ``profiling``: interleaved medians, the cost of
  single ops, peak memory of deep unrolls, and where microtensor's time goes;
- ``second_order``: Hessian-vector products of W3's loss beside its first-order backward,
  in microtensor and PyTorch (alone: ``python -m benchmarks.second_order --quick``);
- ``report``: the tables of ``RESULTS.md``; ``compare``: today against a recorded report.

This file imports nothing, so ``python -m benchmarks`` can pin the BLAS threads
before numpy is first imported.
"""

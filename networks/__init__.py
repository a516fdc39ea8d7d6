"""Networks: layers and workloads, the zoo, torch model classes, genomes and the generator.

Everything that *is* a network lives here, below the packages that price or search it:
:class:`~approxdse.networks.workload.Layer` / :class:`~approxdse.networks.workload.Workload`
(the loop nests the energy model reads), the built-in zoo, the top-level torch module
classes the emulator trains, the DSE's genome and random generator, tracing of any
``torch.nn.Module``, Timeloop problem files and the resolution of network names and specs.
"""

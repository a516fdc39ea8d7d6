"""approxdse.dse: the CNN search space (genome + random generator) and the NAS-style search.

>>> from approxdse.dse import sample_genome
>>> g = sample_genome(0, "digits")
>>> g.to_workload().layers[0].name
'stem'
"""
from approxdse.networks.genome import BLOCK_KINDS, BlockGene, Genome, StageGene
from approxdse.networks.generator import GeneratorSpace, PRESETS, in_space, sample_genome, sample_genomes

__all__ = [
    "BLOCK_KINDS",
    "BlockGene",
    "GeneratorSpace",
    "Genome",
    "PRESETS",
    "StageGene",
    "in_space",
    "sample_genome",
    "sample_genomes",
]

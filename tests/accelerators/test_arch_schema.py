"""Architectures: built-ins, user YAML files and their validation errors."""
import textwrap

import pytest

from approxdse.accelerators.architecture import available_architectures, load_architecture
from approxdse.core.errors import ApproxDSEError, UnknownNameError

USER = textwrap.dedent("""\
    architecture:
      name: tiny
      technology: 45nm
      levels:
        - {name: DRAM, type: storage, class: DRAM, width: 64, datawidth: 8, keep: [Weights, Inputs, Outputs]}
        - {name: buf, type: storage, class: SRAM, depth: 4096, width: 64, datawidth: 8, keep: [Inputs, Outputs]}
        - {name: pes, type: spatial, meshX: 8, allowed: [M, C]}
        - {name: rf, type: storage, class: regfile, depth: 64, width: 16, datawidth: 8, keep: [Weights]}
      compute: {multiplier_width: 8, adder_width: 16}
    """)


def test_builtins_listed_and_loaded():
    names = available_architectures()
    assert {"eyeriss", "simba"} <= set(names)
    ey = load_architecture("eyeriss")
    assert ey.num_macs == 168 and ey.technology == "65nm"
    assert [lv.name for lv in ey.storage_levels] == ["DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad"]
    assert ey.component_names()[-2:] == ["multiplier", "adder"]
    sb = load_architecture("simba")
    assert sb.num_macs == 256
    glb = sb.storage_levels[1]
    assert glb.keep == frozenset({"Inputs", "Outputs"}) and glb.block_size == 32


def test_unknown_name_lists_builtins():
    with pytest.raises(UnknownNameError, match="eyeriss"):
        load_architecture("tpu")


def test_user_yaml_with_estimated_energies(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(USER)
    arch = load_architecture(str(p))
    assert arch.name == "tiny" and arch.num_macs == 8
    buf = arch.storage_levels[1]
    assert buf.energy_source == "estimated" and 0 < buf.energy.read < 59.4555
    assert arch.storage_levels[0].energy.read == pytest.approx(512.0)  # LPDDR4 8 pJ/bit x 64 bit
    assert arch.compute.energy.mac == pytest.approx(1.13555, rel=1e-3)
    assert arch.spatial_levels[0].fixed()["P"] == 1  # only M, C (and G) may be unrolled


@pytest.mark.parametrize("old,new,path", [
    ("depth: 4096", "depth: -3", "architecture.levels[1].depth"),
    ("class: regfile", "class: flipflop", "architecture.levels[3].class"),
    ("meshX: 8", "meshX: 8, colour: red", "architecture.levels[2].colour"),
    ("keep: [Weights]}", "keep: [Biases]}", "architecture.levels[3].keep"),
    ("technology: 45nm", "technology: 7nm", "technology"),
    ("allowed: [M, C]", "allowed: [M, K]", "architecture.levels[2].allowed"),
])
def test_yaml_errors_name_the_key_path(tmp_path, old, new, path):
    p = tmp_path / "bad.yaml"
    p.write_text(USER.replace(old, new))
    with pytest.raises(ApproxDSEError) as exc:
        load_architecture(str(p))
    assert path in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_file_and_invalid_yaml(tmp_path):
    with pytest.raises(ApproxDSEError, match="does not exist"):
        load_architecture(str(tmp_path / "nope.yaml"))
    p = tmp_path / "broken.yaml"
    p.write_text("architecture: [unclosed")
    with pytest.raises(ApproxDSEError, match="not valid YAML"):
        load_architecture(str(p))


def test_with_mac_energy_changes_id():
    ey = load_architecture("eyeriss")
    half = ey.with_mac_energy(multiplier=ey.compute.energy.multiplier / 2)
    assert half.id != ey.id and half.compute.energy.adder == ey.compute.energy.adder
    assert load_architecture("eyeriss").id == ey.id

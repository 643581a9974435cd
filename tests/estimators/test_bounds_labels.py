"""``milpregions bounds``: the text and the JSON say which numbers bound this network and
which are maxima over all weights of the architecture (issue 12, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

MODELS = Path(__file__).resolve().parents[2] / "models"
HE2 = str(MODELS / "he_2d_8x8.onnx")               # n0 = 2, widths [8, 8]
Z2 = str(MODELS / "zaslavsky_2d_8.onnx")           # one hidden layer of 8 units


def test_bounds_command_groups_the_numbers(cli):
    code, out, err = cli("bounds", HE2)
    assert code == 0 and err == ""
    lines = out.splitlines()
    heads = [i for i, line in enumerate(lines) if not line.startswith("  ")]
    assert [lines[i] for i in heads] == [
        "architecture: n0 = 2, widths [8, 8], N = 16 units",
        "bounds on this network (any weights; in all of R^2, so in any box):",
        "best known constructions, max over all weights of this architecture "
        "(not a bound on this network):",
        "for comparison (not bounds on this network):"]
    group = {lines[i]: [line.rsplit(":", 1)[1].strip() for line in lines[i + 1:j]]
             for i, j in zip(heads, heads[1:] + [len(lines)])}
    assert list(group.values())[1:] == [["1,369", "1,369"], ["592", "925"], ["137", "128"]]
    # the Montufar lower bound is listed under the constructions, never under the bounds
    montufar = next(i for i, line in enumerate(lines) if "Montufar et al. 2014" in line)
    assert heads[2] < montufar < heads[3] and lines[montufar].startswith("  max >=  ")


def test_bounds_json_scope_keeps_the_old_keys(cli):
    code, out, _ = cli("bounds", HE2, "--json")
    d = json.loads(out)
    assert code == 0 and (d["serra_upper"], d["product_upper"], d["zaslavsky"]) == (1369, 1369, 137)
    assert (d["montufar_lower"], d["serra_lower"], d["hanin_rolnick_scale"]) == (592, 925, 128.0)
    assert d["scope"] == {"serra_upper": "bound on this network",
                          "product_upper": "bound on this network",
                          "zaslavsky": "shallow maximum", "montufar_lower": "max over weights",
                          "serra_lower": "max over weights",
                          "hanin_rolnick_scale": "typical scale"}
    code, out, _ = cli("bounds", Z2, "--json")
    d = json.loads(out)
    assert d["zaslavsky"] == 37 and d["scope"]["zaslavsky"] == "bound on this network"
    code, out, _ = cli("bounds", Z2)
    assert "  regions <=  Zaslavsky 1975 (one hidden layer):" in out and "N^n0/n0!" in out


def test_count_bounds_after_a_limit_says_lower_bound(cli):
    code, out, _ = cli("count", HE2, "--box", "-1,1", "--max-regions", "5", "--bounds")
    assert code == 3
    lines = out.splitlines()
    assert lines[0] == "at least 5 regions (lower bound: stopped at --max-regions)"
    assert lines[2].startswith("  at least (a stopped count: a lower bound):")
    assert lines[2].split()[-1] == "5"
    assert not any("exact count" in line for line in lines)

"""Counter-based random streams: distribution, independence, reproducibility."""

from __future__ import annotations

import numpy as np
from scipy import stats

from omnisim.engine import streams as rs

IDS = np.arange(200_000)


def test_uniforms_are_uniform_and_reproducible():
    s = rs.Streams(3, 0)
    u = rs.uniforms(s.keys[rs.NEED], IDS, 1, 0)
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    again = rs.Streams(3, 0)
    assert np.array_equal(u, rs.uniforms(again.keys[rs.NEED], IDS, 1, 0))


def test_draws_differ_by_stream_replication_journey_and_slot():
    s, s1 = rs.Streams(3, 0), rs.Streams(3, 1)
    base = rs.uniforms(s.keys[rs.NEED], IDS, 1, 0)
    others = [
        rs.uniforms(s.keys[rs.CHOICE], IDS, 1, 0),
        rs.uniforms(s1.keys[rs.NEED], IDS, 1, 0),
        rs.uniforms(s.keys[rs.NEED], IDS, 2, 0),
        rs.uniforms(s.keys[rs.NEED], IDS, 1, 1),
    ]
    # Independent: correlation within 5 standard errors (1/sqrt(n)) of zero.
    for o in others:
        assert abs(np.corrcoef(base, o)[0, 1]) < 5 / np.sqrt(len(IDS))


def test_normal_and_gamma_laws():
    key = rs.Streams(11, 0).keys[rs.SERVICE]
    z = rs.normals(key, IDS, 1, 0)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    for shape in (0.3, 1.0, 2.5, 9.0):
        g = rs.gammas(shape, key, IDS[:50_000], 2, 0)
        assert stats.kstest(g, "gamma", args=(shape,)).pvalue > 1e-3, shape

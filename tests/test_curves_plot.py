"""Figures of data-efficiency curves: files produced, non-empty, readable PNG; shared style."""

from __future__ import annotations

import json

import pytest

from dataeff.cli import main
from dataeff.efficiency.auc import compute_curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def curves():
    grid = (10, 100, 1000)
    return {
        "fast_task": compute_curve({0: 0.1, 10: 0.9, 100: 0.95, 1000: 0.96}, 1.0, grid),
        "slow_task_with_a_rather_long_name": compute_curve({0: 0.3, 10: 0.1, 100: 0.4, 1000: 0.8}, None, grid),
        "no_zero_shot": compute_curve({10: 0.5, 100: 0.7}, 0.9, grid),
    }


def _check(paths):
    for p in paths:
        assert p.is_file() and p.stat().st_size > 1000, p
    pngs = [p for p in paths if p.suffix == ".png"]
    pdfs = [p for p in paths if p.suffix == ".pdf"]
    assert pngs and pdfs
    for p in pngs:
        assert p.read_bytes()[:8] == PNG_MAGIC
    for p in pdfs:
        assert p.read_bytes()[:5] == b"%PDF-"


def test_write_curve_figures(curves, tmp_path):
    from dataeff.plots.curves import write_curve_figures

    paths = write_curve_figures(curves, "fam", tmp_path / "fig", grid=(10, 100, 1000))
    assert sorted(p.name for p in paths) == ["curves.pdf", "curves.png", "overlay.pdf", "overlay.png"]
    _check(paths)
    assert not [p for p in (tmp_path / "fig").iterdir() if p.name.startswith(".")]  # no temporaries


def test_panels_are_ordered_by_auc(curves):
    from dataeff.plots.curves import plot_curve_grid
    from dataeff.plots.style import save_figure  # noqa: F401  (style import is enough)

    fig = plot_curve_grid(curves, "fam")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    aucs = [float(t.rsplit("AUC ", 1)[1]) for t in titles]
    assert aucs == sorted(aucs) and len(titles) == 3
    import matplotlib.pyplot as plt

    assert plt.get_backend().lower() == "agg"
    plt.close(fig)


def test_save_figure_replaces_extension(tmp_path):
    import matplotlib.pyplot as plt

    from dataeff.plots.style import save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    paths = save_figure(fig, tmp_path / "x.png")
    assert [p.name for p in paths] == ["x.png", "x.pdf"]
    _check(paths)


def test_curves_command(tmp_path, capsys):
    res = tmp_path / "res"
    res.mkdir()
    for task, pts in {"a": {"0": 0.2, "10": 0.6, "100": 1.0}, "b": {"0": 0.5, "10": 0.4, "100": 0.6}}.items():
        (res / f"fam_{task}_full_result_v2.json").write_text(json.dumps({b: {"accuracy": v} for b, v in pts.items()}))
    ceil = tmp_path / "c.json"
    ceil.write_text(json.dumps({"a": {"score": 1.0}, "b": {"score": None}}))
    eff = tmp_path / "eff.json"
    assert (
        main(
            [
                "auc",
                "--results",
                str(res),
                "--family",
                "fam",
                "--ceilings",
                str(ceil),
                "--grid",
                "10,100",
                "--out",
                str(eff),
            ]
        )
        == 0
    )
    out = tmp_path / "figures"
    assert (
        main(
            [
                "curves",
                "--efficiency",
                str(eff),
                "--results",
                str(res),
                "--family",
                "fam",
                "--grid",
                "10,100",
                "--out-dir",
                str(out),
            ]
        )
        == 0
    )
    _check(sorted(out.iterdir()))
    # A stale efficiency.json (computed on another grid) is caught, nothing written.
    out2 = tmp_path / "figures2"
    assert (
        main(
            [
                "curves",
                "--efficiency",
                str(eff),
                "--results",
                str(res),
                "--family",
                "fam",
                "--grid",
                "10,100",
                "--max-budget",
                "1000",
                "--out-dir",
                str(out2),
            ]
        )
        == 2
    )
    assert "does not match" in capsys.readouterr().err
    assert not out2.exists()

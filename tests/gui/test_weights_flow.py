"""The official models from the window: the invitation bar, one overall progress, the switch only once every
file is checked, offline, damaged cache files, the mirror setting; against a local stand-in server."""

from __future__ import annotations

import hashlib
import time
from functools import partial

import pytest
from PySide6.QtCore import Qt

from lci_studio.codec import weights
from lci_studio.codec.weights import BundledSource, CompressAISource, compressai_filename, open_weight_source
from lci_studio.gui.dialogs import SettingsDialog
from lci_studio.gui.jobs import DownloadJob
from lci_studio.gui.weights_flow import INVITE_DISMISSED, MIRROR
from lci_studio.gui.worker import CodecWorker

TIMEOUT_MS = 120_000  # a slow, shared machine: generous, the tests return as soon as it is done


@pytest.fixture
def official(server, ladder_dir, monkeypatch) -> dict[int, bytes]:
    """The test ladder served under official names (their hash prefixes made the ladder's)."""
    files = {q: (ladder_dir / f"q{q}.pth.tar").read_bytes() for q in range(1, 9)}
    prefixes = tuple(hashlib.sha256(files[q]).hexdigest()[:8] for q in range(1, 9))
    monkeypatch.setitem(weights._COMPRESSAI_HASHES, "mse", prefixes)
    for q, data in files.items():
        server.files["/" + compressai_filename(q, "mse")] = data
    return files


def opener_at(url: str, cache):
    return partial(open_weight_source, base_url=url, cache_dir=cache, timeout=5)


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_get_them_switches_only_once_every_file_is_checked(qtbot, make_window, server, official, tmp_path, dialogs):
    cache = tmp_path / "cache"
    window = make_window(BundledSource(), opener=opener_at(server.url, cache))
    flow = window.weights
    assert flow.invite.isVisible()
    assert "CompressAI's official models make files about 30 % smaller at the same quality" in flow.invite_label.text()
    assert flow.get_button.text() == "Get them (~145 MB)"
    texts, at_switch = [], []
    window.worker.progress.connect(lambda _id, done, total, text: texts.append(text))
    flow.switched.connect(lambda source: at_switch.append(sorted(p.name for p in cache.iterdir())))

    click(qtbot, flow.get_button)
    assert flow.dialog is not None and window.session.source.kind == "bundled" and not flow.invite.isVisible()
    qtbot.waitUntil(lambda: bool(at_switch), timeout=TIMEOUT_MS)
    assert at_switch == [sorted(compressai_filename(q, "mse") for q in range(1, 9))]  # all in, nothing else
    assert isinstance(window.session.source, CompressAISource) and flow.dialog is None
    assert not flow.invite.isVisible() and dialogs.errors == []
    total = sum(map(len, official.values())) / 1e6
    assert f"downloading CompressAI official (mse): file 8 of 8, {total:.1f} of {total:.1f} MB" in texts
    assert any(t.startswith("checking and loading quality 8") for t in texts)


def test_dismissing_the_invitation_is_remembered(qtbot, make_window, settings):
    first = make_window(BundledSource())
    assert first.weights.invite.isVisible()
    first.weights.dismiss_invite()
    assert not first.weights.invite.isVisible() and settings.value(INVITE_DISMISSED, type=bool)
    first.close()
    assert not make_window(BundledSource()).weights.invite.isVisible()


def test_offline_get_them_says_so_at_once_and_stays_on_the_bundled_ladder(qtbot, make_window, refused_url, tmp_path,
                                                                          dialogs):  # fmt: skip
    bundled = BundledSource()
    window = make_window(bundled, opener=opener_at(refused_url, tmp_path / "cache"))
    started = time.monotonic()
    click(qtbot, window.weights.get_button)
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=TIMEOUT_MS)
    assert time.monotonic() - started <= 2  # the target
    title, text = dialogs.errors[-1][1:]
    assert title == "Could not get the weights" and "connection was refused" in text
    assert text.endswith("Still using bundled ladder.")
    assert window.session.source is bundled and window.weights.invite.isVisible()


def test_a_damaged_cached_file_is_named_and_the_switch_not_made(qtbot, make_window, source, official, refused_url,
                                                                tmp_path, dialogs):  # fmt: skip
    """All 8 files present, q5 damaged, offline: the window used to switch and then fail all 8 tiles."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for q, data in official.items():
        (cache / compressai_filename(q, "mse")).write_bytes(data if q != 5 else data[:-1])
    window = make_window(source, opener=opener_at(refused_url, cache))
    assert not window.weights.apply("compressai", "mse")
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=TIMEOUT_MS)
    text = dialogs.errors[-1][2]
    assert f"The cached {compressai_filename(5, 'mse')} was damaged" in text and "moved aside" in text
    assert window.session.source is source


def test_the_mirror_setting_is_where_files_come_from(qtbot, make_window, source, server, official, refused_url,
                                                     tmp_path, settings):  # fmt: skip
    settings.setValue(MIRROR, server.url)
    window = make_window(source, opener=opener_at(refused_url, tmp_path / "cache"))
    window.weights.apply("compressai", "mse")
    qtbot.waitUntil(lambda: isinstance(window.session.source, CompressAISource), timeout=TIMEOUT_MS)
    assert len(server.requests) == 8


def test_settings_dialog_says_the_official_size_and_checks_the_address(qtbot):
    dialog = SettingsDialog("compressai", "mse", mirror="ftp://mirror.example/models")
    qtbot.addWidget(dialog)
    assert "~145 MB per metric" in dialog.official.text()  # the 8 files at the official sizes: 144.3 MB
    dialog.accept()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted and "not an http" in dialog.mirror_edit.toolTip()
    dialog.mirror_edit.setText("https://mirror.example/compressai/")
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted and dialog.mirror() == "https://mirror.example/compressai/"


def test_a_stalled_download_shows_what_arrived_before_the_stall(qtbot, server, tmp_path):
    """2.4 MB in, then silence: the window showed "0.0 of 7.2 MB" until the timeout (the throttle dropped it)."""
    data = bytes(7_200_000)
    name = f"w-{hashlib.sha256(data).hexdigest()[:8]}.pth.tar"
    server.files["/" + name] = data
    server.stall_after["/" + name] = 2_400_000
    source = CompressAISource("mse", base_url=server.url, cache_dir=tmp_path, filenames={1: name}, timeout=60)
    worker = CodecWorker()
    texts = []
    worker.progress.connect(lambda _id, done, total, text: texts.append(text))
    try:
        job = worker.start(DownloadJob(source))
        qtbot.waitUntil(lambda: any("2.4 of 7.2 MB" in t for t in texts), timeout=30_000)
        worker.cancel(job)
        qtbot.waitUntil(lambda: not worker.busy(), timeout=TIMEOUT_MS)
    finally:
        worker.shutdown()
    assert texts[-1].endswith("file 1 of 1, 2.4 of 7.2 MB")

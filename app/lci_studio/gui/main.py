"""`lci-studio [IMAGE | FILE.lci] [--weights SPEC] [--metric mse|ms-ssim]`: start the window."""

from __future__ import annotations

import argparse
import os
import sys

from lci_studio import __version__


def qt_binding_drops_references(emits: int = 200) -> bool:
    """True when emitting a Qt signal loses a reference to True, False or None (PySide6 6.12.0 does).

    Such a binding kills the process ("deallocating True or False", "deallocating None") after a
    few thousand signals, i.e. minutes of use; the check costs well under a millisecond.
    """
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    def count() -> int:
        return sys.getrefcount(True) + sys.getrefcount(False) + sys.getrefcount(None)

    probe = _Probe()
    before = count()
    for _ in range(emits):
        probe.ping.emit()
    return before - count() >= emits // 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="lci-studio",
        description="See how learned image compression spends its bits, at all 8 quality levels.",
    )
    parser.add_argument("file", nargs="?", help="an image to compress, or an .lci file to decode")
    parser.add_argument(
        "--weights",
        default=os.environ.get("LCI_STUDIO_WEIGHTS"),
        help="bundled | compressai | a folder of checkpoints (default: the choice saved in Settings; "
        "environment variable LCI_STUDIO_WEIGHTS)",
    )
    parser.add_argument("--metric", choices=("mse", "ms-ssim"), default="mse", help="with --weights compressai")
    parser.add_argument("--no-baselines", action="store_true", help="skip the classical codecs' comparison curves")
    parser.add_argument("--select", type=int, choices=range(1, 9), metavar="Q", help="select quality Q at start")
    parser.add_argument("--demo", action="store_true", help="start in demo mode (full screen)")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check the bundled weights, the codec and the icon without opening a window; exit code 0 when all pass",
    )
    parser.add_argument("--version", action="version", version=f"lci-studio {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from lci_studio.gui.quitting import INTERRUPTED, CtrlCCloses, exit_status, raise_on_ctrl_c

    if args.self_test:
        from lci_studio.selftest import main as self_test

        raise_on_ctrl_c()  # no window: Ctrl-C is a KeyboardInterrupt (the entry point says it in one line)

        return self_test()

    from lci_studio.gui.system_libs import missing_libraries_message, missing_xcb_packages, uses_xcb

    if uses_xcb() and (missing := missing_xcb_packages()):
        print(missing_libraries_message(missing), file=sys.stderr)
        return 1

    from PySide6.QtWidgets import QApplication, QMessageBox

    from lci_studio.gui.file_open import FileOpenEvents

    app = QApplication.instance() or QApplication(sys.argv[:1])
    ctrl_c = CtrlCCloses(app)  # from here on (torch is still to be imported), Ctrl-C closes the window
    if ctrl_c.pressed:
        return INTERRUPTED
    file_open = FileOpenEvents(app)
    app.installEventFilter(file_open)
    app.setOrganizationName("LCI Studio")
    app.setOrganizationDomain("lci-studio.invalid")
    app.setApplicationName("LCI Studio")
    app.setApplicationDisplayName("LCI Studio")
    app.setDesktopFileName("lci-studio")

    from lci_studio.codec.weights import WeightsError, open_weight_source
    from lci_studio.gui.window import MainWindow, app_icon

    app.setWindowIcon(app_icon())
    if qt_binding_drops_references():
        import PySide6

        print(
            f"lci-studio: warning: PySide6 {PySide6.__version__} loses a reference on every Qt signal and will "
            "crash after a while; install another version (pip install 'PySide6-Essentials>=6.6,!=6.12.0').",
            file=sys.stderr,
        )
    source, problem = None, ""
    if args.weights:
        try:
            source = open_weight_source(args.weights, args.metric)
        except WeightsError as exc:
            problem = str(exc)
    if ctrl_c.pressed:  # while torch was imported
        return INTERRUPTED
    window = MainWindow(source, baselines=not args.no_baselines)
    if args.select:
        window.session.select(args.select)
    window.show()
    if problem:
        QMessageBox.warning(window, "Could not use these weights", f"--weights {args.weights}: {problem}")
    if args.file:
        window.open_path(args.file)
    file_open.attach(window.open_path)  # files the desktop hands over in events (macOS)
    if args.demo:
        window.open_demo()
    status = app.exec()
    return exit_status(window.worker, INTERRUPTED if ctrl_c.pressed else status)


if __name__ == "__main__":
    sys.exit(main())

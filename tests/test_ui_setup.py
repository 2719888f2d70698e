"""First launch without the stack: the window offers Setup and runs it in a dialog that can be cancelled."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox
from ui_fakes import FakeInstaller

LINES = ("installing into /cache/stack", "[1/3] kafka (Maven)", "  resolving kafka: 17 files downloaded, 3 s")


def test_an_installed_stack_shows_no_prompt(make_window):
    window, _, _ = make_window(installer=FakeInstaller(installed=True))
    assert not window.setup_prompt.isVisible()
    assert window.start_all.isEnabled()


def test_setup_from_the_window_shows_progress_and_then_lets_the_user_start(make_window, qtbot):
    installer = FakeInstaller(installed=False, lines=LINES)
    window, _, _ = make_window(installer=installer)
    assert window.setup_prompt.isVisible()
    assert not window.start_all.isEnabled() and "Set up" in window.start_all.toolTip()

    window.setup_prompt.button.click()
    dialog = window.setup_dialog
    qtbot.waitUntil(lambda: "files downloaded" in dialog.progress.text(), timeout=5000)
    assert dialog.step.text() == "Step [1/3] kafka (Maven)"
    assert dialog.progress.text() == "resolving kafka: 17 files downloaded"
    assert "installing into /cache/stack" in dialog.log.toPlainText()
    qtbot.waitUntil(lambda: dialog.elapsed.text() != "Elapsed: 0 s", timeout=5000)  # the clock runs

    installer.gate.set()
    qtbot.waitUntil(lambda: dialog.succeeded, timeout=5000)
    assert "Setup finished" in dialog.outcome.text()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Close).click()
    qtbot.waitUntil(lambda: not window.setup_prompt.isVisible(), timeout=5000)
    assert window.start_all.isEnabled()


def test_cancel_stops_setup_and_keeps_the_prompt(make_window, qtbot):
    installer = FakeInstaller(installed=False, lines=LINES)
    window, _, _ = make_window(installer=installer)
    window.open_setup()
    dialog = window.setup_dialog
    qtbot.waitUntil(lambda: "kafka" in dialog.step.text(), timeout=5000)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=5000)
    assert installer.cancelled
    assert "cancelled" in dialog.outcome.text()
    assert dialog.isVisible()  # the user reads what happened, then closes
    dialog.buttons.button(QDialogButtonBox.StandardButton.Close).click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    assert window.setup_prompt.isVisible() and not window.start_all.isEnabled()


def test_a_missing_tool_is_named_with_its_install_command(make_window, qtbot):
    error = "setup cannot continue:\n  Maven is missing (`mvn`); install it: apt-get install -y maven"
    installer = FakeInstaller(installed=False, error=error)
    installer.gate.set()
    window, _, _ = make_window(installer=installer)
    window.open_setup()
    dialog = window.setup_dialog
    qtbot.waitUntil(lambda: not dialog.running, timeout=5000)
    assert not dialog.succeeded
    assert "apt-get install -y maven" in dialog.outcome.text()
    assert window.setup_prompt.isVisible()

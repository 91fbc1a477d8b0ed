"""pytest plugin for lrguard: ``pytest --lrguard`` (or ``lrguard = true`` in the ini file) fails the tests whose
training lrguard has a finding about, with the finding's message and fix.

Opt-in: without the flag or the ini option this module imports neither lrguard nor any framework, patches
nothing, and code under test that does ``import lrguard`` behaves as it does under plain Python. It lives outside
the ``lrguard`` package because importing that package starts watching.

- ``@pytest.mark.lrguard(allow=["lr-collapse"])``: finding ids (or categories, or ``"*"``) one test may raise.
- the ``lrguard_findings`` fixture: the current test's findings (a live, read-only sequence of
  ``lrguard.Finding``); the findings a test has read through it are its own business and do not fail it.
  Without ``--lrguard`` a test that requests it is skipped.
- Expected findings (allowed, or read through the fixture) stay out of pytest's warnings summary.
"""
from __future__ import annotations

import collections
import contextlib
import textwrap
import warnings
from collections.abc import Sequence
from typing import Any, Iterator, List, Optional

import pytest

PLUGIN_NAME = "lrguard-watch"
HELP = "fail the tests whose training lrguard has a finding about (broken lr schedules, vanishing gradients)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lrguard", "lrguard: broken learning-rate schedules")
    group.addoption("--lrguard", action="store_true", dest="lrguard", default=None, help=HELP + ".")
    group.addoption("--no-lrguard", action="store_false", dest="lrguard",
                    help="do not watch, even if the ini file says lrguard = true.")
    parser.addini("lrguard", type="bool", default=False, help=HELP + " (like --lrguard).")


def _enabled(config: pytest.Config) -> bool:
    option = config.getoption("lrguard", default=None)
    return bool(config.getini("lrguard")) if option is None else bool(option)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "lrguard(allow=[...]): finding ids (or categories, or '*') this test may raise under "
                   "pytest --lrguard.")
    if _enabled(config) and not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(LRGuardPlugin(config), PLUGIN_NAME)


@pytest.fixture
def lrguard_findings(request: pytest.FixtureRequest) -> "TestFindings":
    """The findings lrguard raised during the current test (needs ``pytest --lrguard``)."""
    plugin = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:  # a suite must not go red because a flag was not given
        pytest.skip("the lrguard_findings fixture needs pytest --lrguard (or lrguard = true in the ini file)")
    record = plugin.records.get(request.node.nodeid)
    if record is None:  # pragma: no cover  (the protocol hook always makes one first)
        record = plugin.records[request.node.nodeid] = _Record(request.node)
    return TestFindings(plugin, record)


class _Record:
    """What lrguard found during one test (setup, call and teardown)."""

    def __init__(self, item: pytest.Item) -> None:
        self.items: List[Any] = []
        self.reported = 0  # items[:reported] were already judged in a phase's report
        self.seen: set = set()  # ids of the findings the test read through lrguard_findings
        self.allowed = _allowed(item)
        self.call_passed = False


def _allowed(item: pytest.Item) -> set:
    allowed: set = set()
    for mark in item.iter_markers(name="lrguard"):
        value = mark.kwargs.get("allow", mark.args[0] if mark.args else ())
        allowed.update([value] if isinstance(value, str) else list(value or ()))
    return allowed


class TestFindings(Sequence):
    """The current test's findings, up to date each time it is read (pending decisions are made first)."""

    __test__ = False  # not a test class, for pytest's collector

    def __init__(self, plugin: "LRGuardPlugin", record: _Record) -> None:
        self._plugin = plugin
        self._record = record

    def _items(self) -> List[Any]:
        self._plugin.flush()
        items = list(self._record.items)
        self._record.seen.update(id(f) for f in items)
        return items

    def __getitem__(self, index):  # type: ignore[override]
        return self._items()[index]

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items())

    def __eq__(self, other: object) -> bool:
        return self._items() == list(other) if isinstance(other, (list, tuple, TestFindings)) else NotImplemented

    def __repr__(self) -> str:
        return f"lrguard_findings({self._items()!r})"

    @property
    def ids(self) -> List[str]:
        """The ids of the current test's findings, in the order they were raised."""
        return [f.id for f in self._items()]


class LRGuardPlugin:
    """Active under ``--lrguard``: attributes each finding to the test running when it was raised."""

    def __init__(self, config: pytest.Config) -> None:
        import lrguard
        from lrguard.findings import LOG

        self.lrguard = lrguard
        self.records: dict = {}
        self.current: Optional[_Record] = None
        self.outside: List[Any] = []  # findings raised outside any test (collection, session fixtures' end)
        self.failed_tests: List[str] = []
        self.allowed_count = 0
        self.read_count = 0  # findings the tests read through lrguard_findings
        LOG.listeners.append(self._on_finding)
        self._log = LOG

    def _on_finding(self, finding: Any) -> None:
        (self.current.items if self.current is not None else self.outside).append(finding)

    def flush(self) -> None:
        """Let lrguard decide on everything pending; a finding raised as an error (-W error) is still recorded."""
        from lrguard import LRGuardWarning

        for _ in range(16):
            try:
                self.lrguard.findings()
                return
            except LRGuardWarning:
                continue

    # -- hooks --------------------------------------------------------------------------------------
    def pytest_report_header(self, config: pytest.Config) -> str:
        if not self.lrguard.is_installed():
            return "lrguard: --lrguard given but LRGUARD_DISABLE is set: not watching"
        return "lrguard: watching training (a finding fails its test; allow ids with @pytest.mark.lrguard)"

    @pytest.hookimpl(hookwrapper=True)  # inside pytest's own warnings capture (a tryfirst wrapper)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Optional[pytest.Item]):
        record = self.current = self.records[item.nodeid] = _Record(item)
        summary = item.config.pluginmanager.has_plugin("warnings")  # else there is no summary to keep clean
        with warnings.catch_warnings(record=True) if summary else contextlib.nullcontext() as caught:
            try:
                yield
            finally:
                self.current = None
        if summary:
            expected = [f for f in record.items if id(f) in record.seen or _is_allowed(f, record.allowed)]
            _pass_on(caught, expected, self.lrguard.LRGuardWarning)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        record = self.records.get(item.nodeid)
        if record is not None and call.when in ("call", "teardown"):
            self.flush()
        outcome = yield
        report = outcome.get_result()
        if record is None or call.when == "setup":
            return
        if call.when == "call":
            record.call_passed = report.passed
        elif not record.call_passed:
            return
        new = record.items[record.reported:]
        record.reported = len(record.items)
        read = [f for f in new if id(f) in record.seen]
        allowed = [f for f in new if id(f) not in record.seen and _is_allowed(f, record.allowed)]
        due = [f for f in new if id(f) not in record.seen and not _is_allowed(f, record.allowed)]
        self.read_count += len(read)
        self.allowed_count += len(allowed)
        if not due:
            return
        text = _describe(due)
        if report.passed:
            report.outcome = "failed"
            report.longrepr = text
            self.failed_tests.append(item.nodeid)
        else:
            report.sections.append(("lrguard findings", text))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.flush()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        total = sum(len(r.items) for r in self.records.values())
        if not (total or self.outside):
            return
        tr = terminalreporter
        tr.section("lrguard")
        failed = len(self.failed_tests)
        tr.write_line(f"{total} finding{'s' if total != 1 else ''} in tests: {failed} test{'s' if failed != 1 else ''}"
                      f" failed by lrguard, {self.allowed_count} allowed by @pytest.mark.lrguard, {self.read_count}"
                      " read through lrguard_findings")
        if self.outside:
            tr.write_line(f"{len(self.outside)} finding(s) outside any test:")
            tr.write_line(_describe(self.outside, hint=False))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        try:
            self._log.listeners.remove(self._on_finding)
        except ValueError:
            pass


def _pass_on(caught: List[warnings.WarningMessage], expected: List[Any], category: type) -> None:
    """Hand the warnings a test raised on to pytest's capture (its warnings summary), in order, but for those of
    the findings the test expected (allowed, or read through lrguard_findings): like ``recwarn``'s, they are the
    test's business."""
    left = collections.Counter(str(f) for f in expected)
    show = getattr(warnings, "_showwarnmsg", None)  # what warnings.warn calls once the filters let one through
    for message in caught:
        text = str(message.message)
        if isinstance(message.message, category) and left[text] > 0:
            left[text] -= 1
        elif show is not None:
            show(message)
        else:  # pragma: no cover  (every CPython since 3.6 has it)
            warnings.warn_explicit(message.message, message.category, message.filename, message.lineno,
                                   source=message.source)


def _is_allowed(finding: Any, allowed: set) -> bool:
    return bool(allowed) and ("*" in allowed or finding.id in allowed or finding.category in allowed)


def _describe(findings: List[Any], hint: bool = True) -> str:
    lines = [f"lrguard found {len(findings)} problem{'s' if len(findings) != 1 else ''} in this test's training:"]
    for finding in findings:
        message, fix = finding.message, finding.fix
        if fix and message.endswith(fix):
            message = message[: -len(fix)].rstrip()
        at = ", ".join(str(x) for x in (finding.where, f"step {finding.step}" if finding.step is not None else None)
                       if x)
        lines.append(f"[{finding.id}] ({finding.category}) {at}")
        lines.extend(textwrap.wrap(message, 100, initial_indent="    ", subsequent_indent="    "))
        if fix:
            lines.extend(textwrap.wrap(fix, 100, initial_indent="    fix: ", subsequent_indent="         "))
    if hint:
        ids = sorted({f.id for f in findings})
        lines.append(f"(if this is expected: @pytest.mark.lrguard(allow={ids!r}))")
    return "\n".join(lines)

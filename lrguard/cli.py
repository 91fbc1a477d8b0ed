"""The ``lrguard`` command: ``lrguard run [OPTIONS] SCRIPT [ARGS]...`` and ``lrguard run [OPTIONS] -m MODULE [ARGS]...``."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import List, Optional, Sequence

import click

from ._version import __version__

STRICT_STATUS = 3  # --strict: the program succeeded but lrguard found something
FILE_ERROR_STATUS = 1  # the program succeeded but a file asked for (--report-json, --plot) could not be written

CONTEXT = {"help_option_names": ["-h", "--help"]}


class _RunCommand(click.Command):
    """Options after SCRIPT (or after ``-m MODULE``) belong to the program, as with ``python``."""

    def parse_args(self, ctx: click.Context, args: List[str]) -> List[str]:
        metavars = {}  # the options that take a value, and what the value is
        for param in self.get_params(ctx):
            if isinstance(param, click.Option) and not (param.is_flag or param.count):
                for opt in param.opts + param.secondary_opts:
                    metavars[opt] = param.metavar or "VALUE"
        own: List[str] = []
        rest: List[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                rest = args[i + 1:]
                break
            if arg == "-m":
                if i + 1 == len(args):
                    raise click.UsageError("Argument expected for the -m option", ctx)  # Python's words
                own += args[i:i + 2]
                rest = args[i + 2:]
                break
            if arg.startswith("-m") and not arg.startswith("--"):
                own += ["-m", arg[2:]]
                rest = args[i + 1:]
                break
            if arg.startswith("-") and arg != "-":
                name, equals, value = arg.partition("=")
                if name in metavars and (i + 1 == len(args) if not equals else not value):
                    raise click.BadOptionUsage(name, f"{name} needs a {metavars[name].lower()}: {name} "
                                                     f"{metavars[name]}", ctx)
                own.append(arg)
                if name in metavars and not equals:
                    own.append(args[i + 1])
                    i += 1
                i += 1
                continue
            rest = args[i:]
            break
        return super().parse_args(ctx, own + ["--"] + rest)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] SCRIPT [ARGS]...")
        formatter.write_usage(ctx.command_path, "[OPTIONS] -m MODULE [ARGS]...", prefix="   or: ")


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="lrguard", message="%(prog)s %(version)s")
def main() -> None:
    """lrguard: catch broken learning-rate schedules while training runs, and tell them from vanishing gradients.

    \b
    lrguard run train.py --epochs 3        watch a training script (no code change)
    lrguard run -m my_package.train        ... or a module, like python -m
    pytest --lrguard                       fail the tests whose training has a finding
    """


@main.command("run", cls=_RunCommand, context_settings=CONTEXT)
@click.option("-m", "module", metavar="MODULE", help="Run a library module as a script, like python -m.")
@click.option("--report-json", metavar="PATH", type=click.Path(dir_okay=False),
              help="Write the findings and a summary of each watched optimizer as JSON.")
@click.option("--plot", metavar="PATH", type=click.Path(dir_okay=False),
              help="Draw the real lr per param group, the loss and the gradient ratio to a PNG (needs matplotlib).")
@click.option("--strict", is_flag=True,
              help=f"Exit with status {STRICT_STATUS} when there are findings and the program itself succeeded.")
@click.option("-q", "--quiet", is_flag=True, help="No summary on stderr at the end (warnings still show).")
@click.version_option(__version__, "--version", prog_name="lrguard", message="%(prog)s %(version)s")
@click.argument("argv", nargs=-1, type=click.UNPROCESSED, metavar="SCRIPT [ARGS]...")
@click.pass_context
def run_command(ctx: click.Context, module: Optional[str], report_json: Optional[str], plot: Optional[str],
                strict: bool, quiet: bool, argv: Sequence[str]) -> None:
    """Run a Python program exactly as python would, with lrguard watching its training (and its child processes).

    SCRIPT may be a folder or a zip file with a __main__.py, as with python. Options after SCRIPT (or -m MODULE)
    are the program's. At the end (or on SIGTERM) lrguard prints each finding with its fix on stderr, or one line
    saying what it watched.

    Exit status: the program's own (ended by SIGINT or SIGTERM as it would be); 3 with --strict when there are
    findings and the program succeeded; 2 when lrguard run is misused (the program does not run); 1 when the
    program succeeded but a file asked for could not be written.
    """
    from . import plot as plotting
    from . import pyrunner

    if module is not None:
        target = pyrunner.Target(module, tuple(argv), module=True)
    elif argv:
        target = pyrunner.Target(argv[0], tuple(argv[1:]))
    else:
        took = [f"{option} took {path!r} as its PATH" for option, path in (("--report-json", report_json),
                                                                           ("--plot", plot)) if path]
        raise click.UsageError("Missing SCRIPT (or -m MODULE)" + "".join(f"; {t}" for t in took) + ".", ctx)
    if plot and not plotting.available():
        click.echo(f"lrguard: {plotting.MISSING}", err=True)
        ctx.exit(2)
    for option, path in (("--report-json", report_json), ("--plot", plot)):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise click.BadParameter(f"the folder of {path!r} does not exist.", ctx, param_hint=option)
    try:
        pyrunner.check(target)
    except pyrunner.NoTarget as exc:
        click.echo(f"lrguard: {exc}", err=True)
        ctx.exit(exc.status)
    # the paths are the caller's, whatever folder the program moves to
    report_json = os.path.abspath(report_json) if report_json else None
    plot = os.path.abspath(plot) if plot else None
    ctx.exit(_run(target, report_json, plot, strict, quiet))


def _run(target, report_json: Optional[str], plot: Optional[str], strict: bool, quiet: bool) -> int:
    from . import children, pyrunner, sigterm

    run_dir = tempfile.mkdtemp(prefix="lrguard-run-")
    main_pid = os.getpid()
    disabled = os.environ.get("LRGUARD_DISABLE", "").strip().lower() not in ("", "0", "false", "no")

    def clean_up() -> None:
        shutil.rmtree(run_dir, ignore_errors=True)

    def terminated() -> None:  # SIGTERM while the program runs: what was seen until then, then the clean-up
        try:
            _finish(target, pyrunner.Outcome(sigterm.STATUS), run_dir, report_json, plot, strict, quiet, disabled,
                    terminated=True)
        finally:
            clean_up()

    try:
        children.start_main(run_dir)
        try:
            program = pyrunner.load(target)
        except pyrunner.NoTarget as exc:  # Python's own words: the program did not run
            pyrunner.explain(exc)
            return exc.status
        pyrunner.prepare_sigint_exit()
        sigterm.arm(terminated)
        outcome = pyrunner.run(program)
        if os.getpid() != main_pid:  # a child forked by the program went on to the end of it
            children.flush_and_write()
            return outcome.status
        sigterm.set_action(clean_up)
        status = _finish(target, outcome, run_dir, report_json, plot, strict, quiet, disabled)
    finally:
        if os.getpid() == main_pid:
            clean_up()
    if outcome.interrupted:
        pyrunner.exit_by_sigint()
    return status


def _finish(target, outcome, run_dir: str, report_json: Optional[str], plot: Optional[str], strict: bool,
            quiet: bool, disabled: bool, terminated: bool = False) -> int:
    """Final decisions, the children's parts, the files asked for, the summary; returns the exit status.
    ``terminated``: the program was stopped by SIGTERM (its children are not waited for)."""
    from . import children, report

    children.flush_quietly()
    if not terminated:
        _join_children()
    parts = [report.process_part()] + report.read_parts(run_dir)
    command = (["-m", target.name] if target.module else [target.name]) + list(target.args)
    merged = report.merge(parts, command=command, exit_status=outcome.status)
    status = outcome.status
    notes: List[str] = []  # what was written (not with -q)
    errors: List[str] = []  # why the status is not the program's (even with -q)
    if report_json:
        try:
            report.write_atomic(report_json, report.to_json(merged))
            notes.append(f"lrguard: report written to {report.short_path(report_json)}")
        except Exception as exc:
            errors.append(f"lrguard: could not write the report to {report_json}: {exc}")
    if plot:
        try:
            from .plot import render

            report.write_atomic(plot, render(merged))
            notes.append(f"lrguard: plot written to {report.short_path(plot)}")
        except Exception as exc:
            errors.append(f"lrguard: could not draw the plot to {plot}: {type(exc).__name__}: {exc}")
    if status == 0 and errors:
        status = FILE_ERROR_STATUS
    if status == 0 and strict and merged["findings"]:
        status = STRICT_STATUS
        count = len(merged["findings"])
        errors.append(f"lrguard: exit status {STRICT_STATUS} (--strict): {count} finding{'s' if count != 1 else ''}")
    text, lines = "", errors
    if not quiet:
        text = ("lrguard: terminated by SIGTERM; until then:\n" if terminated else "") + (
            "lrguard: disabled (LRGUARD_DISABLE): nothing was watched\n" if disabled else report.summary_text(merged))
        lines = notes + errors
    if text or lines:
        try:
            sys.stdout.flush()
        except Exception:
            pass
        try:
            click.echo(text + "".join(line + "\n" for line in lines), err=True, nl=False)
        except Exception:  # the program closed or replaced stderr: the status still says it all
            pass
    return status


def _join_children() -> None:
    """Wait for the program's non-daemon multiprocessing children, as Python does at exit, to merge their parts."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return
    try:
        for child in mp.active_children():
            if not child.daemon:
                child.join()
    except Exception:
        pass


if __name__ == "__main__":  # pragma: no cover
    main()

"""The `advisor` command line: questions, recommend, rules check, probe, serve, bench, db."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markdown import Markdown

from app.decision.errors import AdvisorError, AnswersError, RulesError
from app.decision.questionnaire import validate_answers
from app.decision.render_markdown import render_markdown
from app.decision.rule_set import RuleSet, load_rule_set
from app.decision.scoring import score_answers
from app.settings import Settings

cli = typer.Typer(help="Framework Advisor: PyTorch or TensorFlow, for your team's workflow.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
rules_cli = typer.Typer(help="Work with the rule set.", no_args_is_help=True)
cli.add_typer(rules_cli, name="rules")
bench_cli = typer.Typer(help="Benchmarks: print numbers and ratios, assert nothing.",
                        no_args_is_help=True)
cli.add_typer(bench_cli, name="bench")
db_cli = typer.Typer(help="Manage the database.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
agents_cli = typer.Typer(help="Enroll, list and revoke probe agents (run on the server).",
                         no_args_is_help=True)
cli.add_typer(agents_cli, name="agents")
# Pipes and CI logs get a wide console so tables are not squeezed to 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Rules directory (default: ADVISOR_RULES_DIR or the shipped one).",
                 file_okay=False),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a user error without a traceback and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def rules_from(directory: Path | None) -> RuleSet:
    """Return the rule set from --rules, else ADVISOR_RULES_DIR, else the shipped rules."""
    try:
        return load_rule_set(directory or Settings().rules_dir)
    except RulesError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise fail(f"the rule set cannot be loaded:\n{lines}") from None


def read_answers_file(path: Path) -> Any:
    """Return the parsed answers file, or exit 2 with a message saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise fail(f"{path} is not valid YAML: {exc}") from None
    if isinstance(data, dict) and set(data) == {"answers"}:
        data = data["answers"]  # accept the API's request body too
    return data


@cli.command()
def questions(rules: RulesOption = None, as_json: Annotated[bool, typer.Option("--json")] = False
              ) -> None:
    """Print the questionnaire: ids, types and allowed answers."""
    rule_set = rules_from(rules)
    if as_json:
        print(json.dumps(rule_set.questionnaire.model_dump(mode="json"), indent=2))
        return
    for section in rule_set.questionnaire.sections:
        out.rule(section.title)
        for q in section.questions:
            need = "required" if q.required else "optional"
            out.print(f"[bold]{q.id}[/] ({q.type}, {need}): {q.label}", highlight=False)
            out.print(f"    {q.help}", style="dim", highlight=False)
            out.print(f"    allowed: {q.allowed()}", highlight=False)


@cli.command()
def recommend(
    answers_file: Annotated[Path, typer.Argument(help="YAML or JSON file: question id -> answer.")],
    rules: RulesOption = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the recommendation as JSON (docs/recommendation.md).")] = False,
    probe_file: Annotated[Path | None, typer.Option("--probe", help="A probe-run JSON document "
                                                    "to use as evidence.")] = None,
) -> None:
    """Score an answers file and print the recommendation."""
    rule_set = rules_from(rules)
    raw = read_answers_file(answers_file)
    try:
        answers = validate_answers(rule_set.questionnaire, raw)
    except AnswersError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise fail(f"{answers_file} has answers that do not fit the questionnaire:\n{lines}"
                   ) from None
    document = None
    if probe_file is not None:
        from app.decision.probe_io import read_probe_document

        try:
            document = read_probe_document(probe_file)
        except AdvisorError as exc:
            raise fail(str(exc)) from None
    rec = score_answers(rule_set, answers, document, probe_run_id=probe_file and probe_file.name)
    if as_json:
        print(json.dumps(rec.model_dump(mode="json"), indent=2))
        return
    title = answers.get("project_name")
    from app.web.wording import claim_check, metric_words

    out.print(Markdown(render_markdown(
        rec, title=str(title) if title else None, describe_claim=claim_check,
        describe_source=metric_words)))


@cli.command()
def probe(
    quick: Annotated[bool, typer.Option("--quick/--full", help="Quick (>=30 samples, 0.5 s) or "
                                        "full (>=100 samples, 2 s) sampling.")] = True,
    models: Annotated[list[str] | None, typer.Option(
        "--models", help="smoke set: mlp, cnn, transformer (default of --quick); workloads: "
        "tabular, recommender, vision, encoder, decoder (default of --full)")] = None,
    frameworks: Annotated[list[str] | None, typer.Option("--frameworks",
                                                         help="pytorch, tensorflow")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Write the JSON document here.")
                      ] = None,
    threads: Annotated[int | None, typer.Option(help="Threads for both frameworks "
                                                "(default: all cores).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds allowed per framework.")] = None,
) -> None:
    """Measure the same models in both frameworks on this machine."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app.probe_summary import print_summary
    from probes.plan import FRAMEWORKS, MODELS, SMOKE, WORKLOADS, estimate_left_s, step_costs
    from probes.runner import run_probes

    models = _split(models) or list(SMOKE if quick else WORKLOADS)
    frameworks = _split(frameworks) or list(FRAMEWORKS)
    for name, given, allowed in (("--models", models, MODELS), ("--frameworks", frameworks,
                                                                FRAMEWORKS)):
        unknown = [g for g in given if g not in allowed]
        if unknown:
            raise fail(f"{name}: unknown {', '.join(unknown)}; expected {', '.join(allowed)}")
    if output is not None and not output.parent.is_dir():
        raise fail(f"--output: directory {output.parent} does not exist")
    if threads is not None and threads < 1:
        raise fail("--threads must be at least 1")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("starting", total=None)
        costs = step_costs(models, frameworks)
        started = time.monotonic()

        def show(p: object) -> None:
            elapsed = time.monotonic() - started
            left = estimate_left_s(costs, min(p.done, len(costs)), elapsed)
            bar.update(task, total=p.total, completed=p.done,
                       description=f"probing {p.current}, {elapsed:.0f} s elapsed, about "
                                   f"{left / 60:.1f} min left")

        document = run_probes(models, frameworks, "quick" if quick else "full", threads,
                              timeout or Settings().probe_timeout_s, on_progress=show)
    print_summary(document, out)
    if document.contention is not None:
        c = document.contention
        worst = max([c.run.others_cores] + [u.others_cores for u in c.per_framework.values()])
        out.print(("contended: " if c.contended else "quiet: ") + f"other processes used {worst:.2f} "
                  f"of a core (threshold {c.threshold_cores:g})" + ("; these numbers are shown in "
                  "reports but score no points" if c.contended else ""), highlight=False)
    if output is not None:
        output.write_text(json.dumps(document.to_json(), indent=1), encoding="utf-8")
        out.print(f"wrote {output}", highlight=False)
    if document.status == "failed":
        raise typer.Exit(1)


def _split(values: list[str] | None) -> list[str]:
    """Accept both --models a --models b and --models a,b."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


class EventLoop(enum.StrEnum):
    asyncio = "asyncio"
    uvloop = "uvloop"


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    rules: RulesOption = None,
    workers: Annotated[int, typer.Option(help="Server processes (they share the database).")
                       ] = 1,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="Log one line per request (uvicorn's access log).")
    ] = True,
    loop: Annotated[EventLoop, typer.Option(
        help="Event loop. asyncio by default: under 32 busy connections uvloop gave the same "
             "throughput here but a p99 latency up to five times longer (145 vs 31 ms for "
             "scored requests; `advisor bench server --loop uvloop`).")] = EventLoop.asyncio,
) -> None:
    """Start the web server (API, pages); applies database migrations first."""
    import os

    import uvicorn

    from app.web.main import create_app

    if rules is not None:
        os.environ["ADVISOR_RULES_DIR"] = str(rules)  # also seen by extra worker processes
    try:
        settings = Settings()
        load_rule_set(settings.rules_dir)
    except RulesError as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise fail(f"the rule set cannot be loaded:\n{lines}") from None
    except ValueError as exc:
        raise fail(f"invalid setting: {exc}") from None
    _check_database(settings.database_url)
    from app.web.http_protocol import http_protocol

    # Proxy headers are the application's business (ADVISOR_TRUST_FORWARDED_FOR, last hop
    # only): uvicorn's own handling would believe any client's X-Forwarded-For. The request
    # head is bounded (ADVISOR_MAX_HEADER_BYTES) by app/web/http_protocol.py.
    server = {"host": host, "port": port, "log_level": "info", "access_log": access_log,
              "log_config": _server_log_config(), "proxy_headers": False,
              "http": http_protocol(), "h11_max_incomplete_event_size": settings.max_header_bytes,
              "loop": loop.value}
    if workers > 1:
        uvicorn.run("app.web.main:create_app", factory=True, workers=workers, **server)
    else:
        uvicorn.run(create_app(settings), **server)


def _server_log_config() -> dict[str, Any]:
    """Return uvicorn's logging setup plus the service's own loggers (advisor.*: probe runs
    starting, finishing or failing; unhandled errors), printed like uvicorn's lines."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["advisor"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # The same access line, without copying each record twice (app/web/access_log.py).
    config["formatters"]["access"]["()"] = "app.web.access_log.AccessLineFormatter"
    return config


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every database migration (the server also does this on start)."""
    from app.storage.database import make_engine, migrate

    settings = Settings()
    _check_database(settings.database_url)
    migrate(make_engine(settings.database_url))
    out.print(f"database at head: {_safe_url(settings.database_url)}", highlight=False)


def _check_database(url: str) -> None:
    """Exit 2 with a clear message if ADVISOR_DATABASE_URL is malformed or unreachable."""
    from sqlalchemy import text
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from app.storage.database import make_engine

    try:
        engine = make_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except (ArgumentError, NoSuchModuleError):
        raise fail("ADVISOR_DATABASE_URL is not a SQLAlchemy URL, e.g. sqlite:///advisor.db or "
                   "postgresql+psycopg://user@host:5432/db") from None
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise fail(f"cannot reach the database at {_safe_url(url)}: {reason}") from None


def _safe_url(url: str) -> str:
    """Return the URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


@rules_cli.command("check")
def rules_check(rules: RulesOption = None) -> None:
    """Check the rule set; list every problem and exit 1 if there is any."""
    directory = rules or Settings().rules_dir
    try:
        rule_set = load_rule_set(directory)
    except RulesError as exc:
        for problem in exc.problems:
            err.print(f"- {problem}", highlight=False, markup=False)
        err.print(f"{len(exc.problems)} problem(s) in {directory}", highlight=False)
        raise typer.Exit(1) from None
    out.print(
        f"ok: {len(rule_set.rules)} scoring rules, {len(rule_set.toolchain)} toolchain rules, "
        f"{len(rule_set.tools)} tool statuses, {len(rule_set.claims)} claims; "
        f"rules_version {rule_set.version}", highlight=False,
    )


@bench_cli.command("scoring")
def bench_scoring(
    rules: RulesOption = None,
    generated: Annotated[int, typer.Option(help="Size of the generated rule set.")] = 10_000,
) -> None:
    """Scoring: one answer set, a generated rule set, and the flip analysis."""
    from app.bench.scoring import run_scoring_benchmark

    run_scoring_benchmark(rules_from(rules), generated, out)


@bench_cli.command("pages")
def bench_pages(
    samples: Annotated[int, typer.Option(help="Requests per page.")] = 200,
    probe_document: Annotated[Path | None, typer.Option(
        help="Probe-run JSON the reports cite (default: the recorded one in tests/data).")
    ] = None,
) -> None:
    """Page server time (median, p95) and page weight with the number of requests."""
    from app.bench.pages import RECORDED, run_pages_benchmark

    run_pages_benchmark(out, samples=samples, probe_document=probe_document or RECORDED)


@bench_cli.command("server")
def bench_server(
    seconds: Annotated[int, typer.Option(help="Seconds of load per endpoint and round.")] = 5,
    connections: Annotated[int, typer.Option(help="Concurrent connections.")] = 32,
    rounds: Annotated[int, typer.Option(min=1, help="Interleaved rounds (medians are shown).")
                      ] = 3,
    loop: Annotated[EventLoop, typer.Option(help="The server's event loop.")
                    ] = EventLoop.asyncio,
) -> None:
    """The real server under wrk: trivial endpoint vs recommendations and report reads."""
    from app.bench.server import run_server_benchmark

    run_server_benchmark(out, seconds=seconds, connections=connections, rounds=rounds,
                         loop=loop.value)


@bench_cli.command("stall")
def bench_stall(
    seconds: Annotated[float, typer.Option(help="Seconds of each attack.")] = 6.0,
    padded: Annotated[int, typer.Option(help="Whitespace-padded bodies for the RSS check.")
                      ] = 150,
    only: Annotated[str | None, typer.Option(help="Run only attacks whose name has this.")
                    ] = None,
) -> None:
    """Worst event-loop stall hostile requests within the body limit provoke; RSS after padding."""
    from app.bench.stall import run_stall_benchmark

    run_stall_benchmark(out, seconds=seconds, padded_bodies=padded, only=only)
LabelOption = Annotated[list[str] | None, typer.Option(
    "--label", help="A label (repeat or comma-separate); a deployment-target id such as "
                    "edge_linux says which target the machine stands for.")]


def _sessions():  # noqa: ANN202 - a sessionmaker on the configured, migrated database
    from app.storage.database import make_engine, migrate, session_factory

    settings = Settings()
    _check_database(settings.database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    return session_factory(engine)


@agents_cli.command("add")
def agents_add(name: str, label: LabelOption = None) -> None:
    """Enroll an agent and print its token once (only its hash is stored)."""
    from app.storage import agents

    try:
        row, token = agents.create(_sessions(), name, _split(label))
    except agents.AgentError as exc:
        raise fail(str(exc)) from None
    err.print(f"agent {row.name} enrolled with labels {row.labels or '[]'}. Its token is shown "
              "once; start the agent with:", highlight=False)
    err.print(f"  advisor agent --server URL --token {token}", highlight=False, markup=False)
    print(token)


@agents_cli.command("list")
def agents_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List agents: name, labels, status, last seen."""
    from rich.table import Table

    from app.storage import agents, probe_runs

    sessions = _sessions()
    busy = probe_runs.busy_agents(sessions)
    rows = [{"name": a.name, "labels": a.labels, "builtin": a.builtin,
             "status": agents.status_of(a, a.name in busy),
             "last_seen_at": a.last_seen_at.isoformat() if a.last_seen_at else None}
            for a in agents.all_agents(sessions)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="Probe agents")
    for column in ("name", "labels", "status", "last seen"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["name"] + (" (server)" if r["builtin"] else ""), ", ".join(r["labels"]),
                      r["status"], r["last_seen_at"] or "never")
    out.print(table)


@agents_cli.command("revoke")
def agents_revoke(name: str) -> None:
    """Revoke an agent's token; the server refuses it from the next request on."""
    from app.storage import agents

    if not agents.revoke(_sessions(), name):
        raise fail(f"no agent named {name!r}")
    out.print(f"agent {name} revoked", highlight=False)


@cli.command()
def agent(
    server: Annotated[str, typer.Option(help="The server's base URL, e.g. https://advisor.example")],
    token: Annotated[str, typer.Option(envvar="ADVISOR_AGENT_TOKEN",
                                       help="Token from `advisor agents add` (or "
                                            "ADVISOR_AGENT_TOKEN, which keeps it out of ps).")],
    label: LabelOption = None,
    probe_timeout: Annotated[float, typer.Option(
        help="Time limit for one framework's probe subprocess, in seconds.")] = 900.0,
    wait: Annotated[float, typer.Option(help="Long-poll wait per claim, in seconds.")] = 25.0,
    heartbeat: Annotated[float, typer.Option(help="Seconds between heartbeats.")] = 5.0,
    ca_bundle: Annotated[Path | None, typer.Option(
        help="CA certificates to trust for an https:// server with a private CA.",
        exists=True, dir_okay=False)] = None,
) -> None:
    """Run probe jobs for a server: long-poll for work, run, stream progress, upload results."""
    import logging
    import signal
    import threading

    from app.agent.fingerprint import fingerprint
    from app.agent.http_queue import HttpJobQueue
    from app.agent.loop import AgentRefused, JobSettings, serve_jobs

    if not server.startswith(("http://", "https://")):
        raise fail("--server must be an http:// or https:// URL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    queue = HttpJobQueue(server, token.strip(), environment=fingerprint(),
                         labels=_split(label) or None, stop=stop,
                         verify=str(ca_bundle) if ca_bundle else True)

    def done(job, outcome: str) -> None:  # noqa: ANN001
        err.print(f"job {job.id}: {outcome}", highlight=False)

    err.print(f"agent polling {server} for probe jobs", highlight=False)
    try:
        serve_jobs(queue, stop, JobSettings(timeout_s=probe_timeout, heartbeat_s=heartbeat),
                   wait_s=wait, on_job=done)
    except AgentRefused as exc:
        raise fail(str(exc), code=3) from None
    finally:
        queue.close()


@bench_cli.command("agents")
def bench_agents(
    agents_count: Annotated[int, typer.Option("--agents", help="Fake agents.")] = 20,
    seconds: Annotated[float, typer.Option(help="Seconds of load.")] = 20.0,
    jobs: Annotated[int, typer.Option(help="Jobs queued for the agents to lease.")] = 400,
    database_url: Annotated[str | None, typer.Option(
        help="PostgreSQL URL of an empty database to use (default: a new one on "
             "127.0.0.1:5432, dropped afterwards).")] = None,
) -> None:
    """One server process, PostgreSQL, fake agents that only lease and heartbeat: lease
    latency (p50/p99) and heartbeats per second."""
    from app.bench.agents import run_agents_benchmark

    run_agents_benchmark(out, agents=agents_count, seconds=seconds, jobs=jobs,
                         database_url=database_url)


def main() -> None:
    """Entry point of the `advisor` console script."""
    try:
        cli()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

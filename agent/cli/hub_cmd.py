"""``framesift hub``: run the self-hostable collection server, or export from it."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

from agent.cli.common import positive_float
from agent.config.environment import read_environment
from agent.errors import DependencyError
from agent.runtime.log_redaction import install_redaction

logger = logging.getLogger(__name__)


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()):  # "²".isdigit() is True
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    if int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: port {int(port)} is outside 0-65535")
    return host.strip("[]") or "127.0.0.1", int(port)


def add_parser(sub: Any) -> None:
    """Register ``hub`` and ``hub export``."""
    p = sub.add_parser("hub", help="run the self-hostable hub (Roboflow-compatible upload API)")
    p.add_argument("--data", type=Path, default=Path("hub-data"), help="where images and the index live")
    p.add_argument("--listen", type=_listen, default=("127.0.0.1", 9200), help="HOST:PORT (default 127.0.0.1:9200)")
    p.add_argument("--keys-file", type=Path, default=read_environment().hub_keys_file,
                   help="accepted API keys, one per line (default $FRAMESIFT_HUB_KEYS_FILE)")  # fmt: skip
    p.add_argument("--insecure-no-auth", action="store_true", help="accept any API key (testing only)")
    p.add_argument("--max-upload-mb", type=positive_float, default=25.0, help="request body limit (default 25 MB)")
    p.add_argument("--hosted-images", choices=("public", "any", "off"), default="public",
                   help="which hosts an upload with image=<url> may fetch from: public addresses only, any, "
                        "or none")  # fmt: skip
    _add_storage_arguments(p)
    p.add_argument("--workspace", default="framesift", help="the workspace slug POST / answers (default framesift)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="warning",
                   help="hub log verbosity")  # fmt: skip
    p.set_defaults(run=run_server)
    hsub = p.add_subparsers(dest="hub_command", metavar="SUBCOMMAND")
    ep = hsub.add_parser("export", help="write a project (or one batch) as a COCO or YOLO dataset")
    ep.add_argument("dest", type=Path, help="directory to write the dataset into (new or empty)")
    ep.add_argument("--force", action="store_true", help="write into a directory that is not empty (files of the "
                    "same names are replaced, others kept)")  # fmt: skip
    ep.add_argument("--data", type=Path, default=Path("hub-data"), help="the hub's data directory")
    ep.add_argument("--project", required=True, help="project to export")
    _add_storage_arguments(ep)
    ep.add_argument("--batch", default=None, help="only this batch (default: every batch)")
    ep.add_argument("--split", choices=["train", "valid", "test"], default=None, help="only this split")
    ep.add_argument("--tag", default=None, help="only images with this tag")
    ep.add_argument("--review", choices=["unannotated", "predicted", "annotated"], default=None,
                    help="only images in this review state")  # fmt: skip
    ep.add_argument("--state", choices=["approved", "rejected", "pending"], default=None,
                    help="only images with this web app review decision (approved: with corrections)")  # fmt: skip
    ep.add_argument(
        "--split-ratios",
        default=None,
        metavar="TRAIN,VALID,TEST",
        help="re-split into train/ valid/ test/ datasets, e.g. 70,20,10 (default: no re-split)",
    )
    ep.add_argument("--format", choices=["coco", "yolo", "classification"], default="coco", help="dataset layout")
    ep.set_defaults(run=run_export)
    _add_user_parser(hsub)
    kp = hsub.add_parser("new-key", help="append a new random API key to a keys file and print it")
    kp.add_argument("keys_file", type=Path, help="keys file to append to (created with mode 0600)")
    kp.set_defaults(run=run_new_key)


def _add_user_parser(hsub: Any) -> None:
    up = hsub.add_parser("user", help="web app accounts: add an admin or a reviewer")
    usub = up.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    ua = usub.add_parser("add", help="add a user, or set an existing user's role and password")
    ua.add_argument("name", help="user name (letters, digits, . _ @ -)")
    ua.add_argument("--role", choices=["admin", "reviewer"], required=True, help="admin: configures and assigns")
    ua.add_argument("--password-file", type=Path, default=None,
                    help="the password is this file's first line (default: a prompt, or a line on stdin)")  # fmt: skip
    ua.add_argument("--data", type=Path, default=Path("hub-data"), help="the hub's data directory")
    _add_storage_arguments(ua)
    ua.set_defaults(run=run_user_add)


def _read_password(path: Path | None) -> str:
    """From the file, a prompt (twice, must match) or one line of stdin; never from the command line."""
    import getpass

    if path is not None:
        lines = path.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run_user_add(args: argparse.Namespace) -> int:
    """Create (or update) a web app user in the hub's database."""
    from agent.hub.errors import HubError
    from agent.hub.store import open_store
    from agent.hub.web.accounts_store import AccountStore

    try:
        password = _read_password(args.password_file)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        print(f"framesift: error: cannot read the password: {exc}", file=sys.stderr)
        return 1
    storage = open_store(args.data, args.database, args.blobs)
    try:
        AccountStore(storage.engine).add_user(args.name, args.role, password)
    except HubError as exc:
        print(f"framesift: error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        storage.close()
    print(f"user {args.name} ({args.role}) saved; sign in at http://HOST:PORT/-/login")
    return 0


def _add_storage_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--database", default=None, metavar="postgresql://…",
                   help="PostgreSQL URL (several hubs share it); default: SQLite under --data")  # fmt: skip
    p.add_argument("--blobs", type=Path, default=None,
                   help="image directory (shared by every hub on one database); default: <data>/blobs")  # fmt: skip


def run_server(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    try:
        import uvicorn

        from agent.hub.app import create_app, load_keys
        from agent.hub.context import HubContext
        from agent.hub.store import open_store
    except ImportError as exc:
        raise DependencyError(f"the hub needs its extra: pip install 'framesift[hub]' ({exc})") from exc
    keys = load_keys(args.keys_file)
    if not keys and not args.insecure_no_auth:
        print("framesift hub: no API keys: pass --keys-file (see `framesift hub new-key`) "
              "or --insecure-no-auth for a throwaway test hub")  # fmt: skip
        return 2
    host, port = args.listen
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction(keys)
    storage = open_store(args.data, args.database, args.blobs)
    app = create_app(HubContext(storage, frozenset(keys), args.workspace, not args.insecure_no_auth,
                                max_body_bytes=int(args.max_upload_mb * 1024 * 1024),
                                hosted_images=args.hosted_images))  # fmt: skip
    where = "PostgreSQL" if args.database else str(args.data)
    print(f"framesift hub serving {where} on http://{host}:{port}/", flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level=args.log_level, access_log=True, log_config=None)
    server = uvicorn.Server(config)
    install_redaction()  # also on handlers added since
    notifier = threading.Thread(target=_notify_systemd, args=(server, host, port), daemon=True)
    notifier.start()
    server.run()
    storage.close()
    return 0


def _web_app_has_accounts(storage: Any) -> bool:
    from agent.hub.web.accounts_store import AccountStore

    accounts = AccountStore(storage.engine)
    return accounts.user_count() > 0 or accounts.live_key_count() > 0


def _notify_systemd(server: Any, host: str, port: int) -> None:
    """READY=1 once uvicorn serves; WATCHDOG=1 only while /healthz answers."""
    import httpx

    from agent.daemon.systemd import sd_notify, watchdog_interval_s

    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.should_exit:
        return
    sd_notify("READY=1")
    interval = watchdog_interval_s()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/healthz"
    while interval and not server.should_exit:
        try:
            if httpx.get(url, timeout=interval).status_code == 200:
                sd_notify("WATCHDOG=1")
        except httpx.HTTPError:
            logger.warning("hub health check failed; not feeding the systemd watchdog")
        time.sleep(interval)


def run_export(args: argparse.Namespace) -> int:
    """Export and print a summary (every skipped record on its own line)."""
    from agent.hub.export import ExportFilter, export_dataset
    from agent.hub.store import open_store

    if not args.database and not (args.data / "index.sqlite").is_file():  # a typo must not create an empty hub
        print(f"framesift: error: no hub data at {args.data} (a hub's --data directory holds index.sqlite)",
              file=sys.stderr)  # fmt: skip
        return 1
    from agent.hub.errors import HubInputError
    from agent.hub.export import parse_split_ratios

    try:
        ratios = parse_split_ratios(args.split_ratios) if args.split_ratios else None
    except HubInputError as exc:
        print(f"framesift: error: --split-ratios: {exc.message}", file=sys.stderr)
        return 1
    if args.dest.exists() and (not args.dest.is_dir() or any(args.dest.iterdir())) and not args.force:
        what = "is a file" if not args.dest.is_dir() else "is not empty (--force writes into it anyway)"
        print(f"framesift: error: {args.dest} {what}", file=sys.stderr)
        return 1
    storage = open_store(args.data, args.database, args.blobs)
    try:
        if storage.project_summary(args.project) is None:
            known = ", ".join(storage.project_names()[:20]) or "none yet"
            print(f"framesift: error: no project {args.project!r} in this hub (projects: {known})", file=sys.stderr)
            return 1
        report = export_dataset(storage, args.project, args.format, args.dest,
                                ExportFilter(args.batch, args.split, args.tag, args.review, args.state),
                                split_ratios=ratios)  # fmt: skip
    finally:
        storage.close()
    for line in report.skipped:
        print(f"skipped {line}")
    print(f"exported {report.images} images ({report.annotations} annotations) of {args.project} as {args.format} "
          f"to {args.dest}; {len(report.skipped)} skipped")  # fmt: skip
    return 0


def run_new_key(args: argparse.Namespace) -> int:
    """Create a key (mode 0600 file) and print it."""
    key = secrets.token_urlsafe(24)
    args.keys_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(args.keys_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(key + "\n")
    print(key)
    return 0

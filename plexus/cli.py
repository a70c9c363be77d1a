"""The command line. `python -m plexus try ALIAS` sends a ready-made request (plexus/tryout.py);
`python -m plexus catalog [MODEL]` prints what the model catalog knows (plexus/catalog_cli.py).
`python -m plexus check-config [FILE]` validates a config the way start-up
does, for CI pipelines: the same messages (one problem a line, with file, line and key path), exit
status 0 when the gateway would start with it, 1 when it would not. Warnings (providers that would
be unusable) are printed either way. `python -m plexus migrate-usage SQLITE POSTGRES` copies a SQLite
store into PostgreSQL (plexus/storage/copy.py)."""

import argparse
import os
import sys

from .config import ConfigError, config_path, load_config

PLACEHOLDER = "placeholder-set-by-check-config"


class _EnvWithPlaceholders(dict):
    """The real environment, with a placeholder for every variable it lacks (and a note of which)."""

    def __init__(self, real):
        super().__init__(real)
        self.missing = set()

    def __contains__(self, name):
        return True

    def __getitem__(self, name):
        if not dict.__contains__(self, name):
            self.missing.add(name)
            return PLACEHOLDER
        return dict.__getitem__(self, name)


def check_config(argv, out=sys.stdout, err=sys.stderr):
    parser = argparse.ArgumentParser(prog="python -m plexus check-config",
                                     description="Validate a Plexus config file as start-up would.")
    parser.add_argument("file", nargs="?", help="the config file (default: $CONFIG_FILE, else config/plexus.yaml)")
    parser.add_argument("--allow-missing-env", action="store_true",
                        help="check a file whose ${VARIABLES} are not set here (CI without the secrets): "
                             "each unset one is named as a warning and a placeholder stands in for it")
    args = parser.parse_args(argv)
    path = config_path(args.file)
    environ = _EnvWithPlaceholders(os.environ) if args.allow_missing_env else None
    try:
        config = load_config(path, environ)
        _check_database(config)
    except ConfigError as e:
        print(f"plexus: the config cannot be used:\n{e}", file=err)
        return 1
    warnings = list(config.warnings())
    if environ is not None:
        warnings += [f"environment variable {name} is not set (checked with a placeholder)" for name in sorted(environ.missing)]
    for warning in warnings:
        print(f"{path}: warning: {warning}", file=err)
    print(f"{path}: OK ({len(config.providers)} providers, {len(config.aliases)} aliases, {len(config.keys)} keys"
          f"{', ' + str(len(warnings)) + ' warnings' if warnings else ''})", file=out)
    return 0


def _check_database(config):
    from .storage import database_url

    database_url(config)  # refuses a database URL Plexus cannot use, as start-up does


def try_alias(argv):
    from . import tryout

    return tryout.main(argv)


def migrate_usage(argv):
    from .storage import copy

    return copy.main(argv)


def show_catalog(argv):
    from . import catalog_cli

    return catalog_cli.main(argv)


COMMANDS = {"check-config": check_config, "try": try_alias, "migrate-usage": migrate_usage, "catalog": show_catalog}
USAGE = """usage: python -m plexus COMMAND ...
  check-config [FILE] [--allow-missing-env]   validate a config file as start-up would
  try ALIAS [--style chat|messages|responses|gemini] [--stream] [--tool] [--image] [--payload FILE]
                                              send a ready-made request through a running gateway
  migrate-usage sqlite:///OLD.db postgresql://...
                                              copy usage records and stored responses into PostgreSQL
                                              (resumable: run it again after a cut)
  catalog [MODEL] [--provider KIND] [--config FILE]
                                              what the built-in catalog knows (prices, context, max output)"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])

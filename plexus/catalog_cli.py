"""`python -m plexus catalog [MODEL]`: what the built-in catalog (plexus/catalog.py) knows.

With MODEL: its entry at every catalog provider that has it (or only `--provider KIND`). Without:
every model the config's targets and prices name, with what routing and accounting will use and
where each value comes from (config or catalog)."""

import argparse
import sys

from . import catalog
from .config import ConfigError, config_path, load_config

PRICE_FIELDS = ("input", "output", "cached_input", "cache_write")


def main(argv, out=sys.stdout, err=sys.stderr) -> int:
    parser = argparse.ArgumentParser(prog="python -m plexus catalog", description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", help="an upstream model name, e.g. claude-sonnet-4-20250514")
    parser.add_argument("--provider", choices=sorted(catalog.CATALOG_IDS), help="look only at this catalog provider")
    parser.add_argument("--config", help="the config file (default: $CONFIG_FILE, else config/plexus.yaml)")
    args = parser.parse_args(argv)
    if args.model:
        return _model(args.model, [args.provider] if args.provider else list(catalog.CATALOG_IDS), out)
    try:
        config = load_config(config_path(args.config))
    except ConfigError as e:
        print(f"plexus: {e}", file=err)
        return 1
    return _configured(config, out)


def _model(model, kinds, out):
    found = 0
    for kind in kinds:
        entry = catalog.lookup(kind, model)
        if entry is None:
            continue
        found += 1
        print(f"{kind}: {entry.model_id or model}", file=out)
        print(f"  context_window {_n(entry.context_window)}  max_output {_n(entry.max_output)}", file=out)
        print(f"  price {_price(entry.pricing)}  ({catalog.price_source()})" if entry.pricing else "  price: none", file=out)
        for start, tier in entry.tiers:
            print(f"  above {start:,} prompt tokens: {_price(tier)}", file=out)
    if not found:
        print(f"{model}: not in the catalog ({catalog.price_source()}, {catalog.limit_source()})", file=out)
        return 1
    return 0


def _configured(config, out):
    seen = set()
    for alias in config.aliases.values():
        for t in alias.targets:
            seen.add((t.provider, t.model))
    for pid, provider in config.providers.items():
        seen.update((pid, m) for m in provider.pricing)
    for pid, model in sorted(seen):
        provider = config.providers.get(pid)
        if provider is None:
            continue
        f = catalog.facts(config, pid, model)
        print(f"{pid}/{model} (as {catalog.catalog_provider(provider)}): context_window {_n(f.context_window)}"
              f" max_output {_n(f.max_output)}{' [' + f.limit_source + ']' if f.limit_source else ''};"
              f" price {_price(f.pricing) + ' [' + f.price_source + ']' if f.pricing else 'none'}", file=out)
    return 0


def _price(p):
    return "  ".join(f"{k} {getattr(p, k):g}" for k in PRICE_FIELDS if getattr(p, k) is not None) + " USD/1M"


def _n(value):
    return f"{value:,}" if value else "?"

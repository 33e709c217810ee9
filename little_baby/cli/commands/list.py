"""List the models in the cache, oldest first.

    little-baby list
    little-baby list --cache /data/models

A status of `running` means a live process holds the model's folder now; `stopped`, that
its run ended without finishing (killed, or the machine went down): `little-baby train
--resume GUID` continues it. `running?`: its report says running, but no lock says
whether a process still is (a run started by a version without locks).
"""
import os
import time

from ...io import cache as model_cache
from ...io.claim import run_status
from .common import add_cache_argument, human_size


def add_arguments(parser):
    add_cache_argument(parser)


def run(args):
    models = model_cache.list_models(args.cache)
    folder = model_cache.cache_dir(args.cache).resolve()
    if not models:
        chosen = ("--cache" if args.cache else f"${model_cache.CACHE_ENV}"
                  if os.environ.get(model_cache.CACHE_ENV) else "the default, ./cache")
        exists = "" if folder.is_dir() else ", a folder that does not exist yet"
        print(f"no models in {folder} ({chosen}{exists}). Train one with `little-baby train "
              f"--corpus FILE`, or look elsewhere with --cache DIR or ${model_cache.CACHE_ENV}.")
        return 0
    print(f"{len(models)} model(s) in {folder}")
    print(f"{'GUID':36}  {'status':10} {'params':>9} {'val loss':>8} {'size':>8}  "
          f"{'modified':16}  parent")
    stopped = []
    for m in models:
        loss = f"{m['val_loss']:.4f}" if m["val_loss"] is not None else "-"
        params = f"{m['n_params']:,}" if m["n_params"] else "-"
        status = run_status(m["path"], m["status"]).split(" ")[0]
        if status in ("stopped", "interrupted"):
            stopped.append(m["guid"])
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(m["modified"]))
        print(f"{m['guid']:36}  {status:10} {params:>9} {loss:>8} {human_size(m['size']):>8}  "
              f"{when:16}  {(m['parent_guid'] or '-')[:8]}")
    if stopped:
        print(f"{len(stopped)} run(s) stopped before finishing: continue one with `little-baby "
              f"train --resume {stopped[0][:8]}`.")
    return 0

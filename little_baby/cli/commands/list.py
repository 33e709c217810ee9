"""List the models in the cache, oldest first.

    little-baby list
    little-baby list --cache /data/models
"""
import time

from ...io import cache as model_cache
from .common import add_cache_argument, human_size


def add_arguments(parser):
    add_cache_argument(parser)


def run(args):
    models = model_cache.list_models(args.cache)
    folder = model_cache.cache_dir(args.cache)
    if not models:
        print(f"no models in {folder} (train one: little-baby train --corpus FILE)")
        return 0
    print(f"{len(models)} model(s) in {folder}")
    print(f"{'GUID':36}  {'status':10} {'params':>9} {'val loss':>8} {'size':>8}  "
          f"{'modified':16}  parent")
    for m in models:
        loss = f"{m['val_loss']:.4f}" if m["val_loss"] is not None else "-"
        params = f"{m['n_params']:,}" if m["n_params"] else "-"
        status = m["status"].split(" ")[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(m["modified"]))
        print(f"{m['guid']:36}  {status:10} {params:>9} {loss:>8} {human_size(m['size']):>8}  "
              f"{when:16}  {(m['parent_guid'] or '-')[:8]}")
    return 0

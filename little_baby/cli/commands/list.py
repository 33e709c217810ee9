"""List the models: the store's, oldest first, then the age models shipped with the
package (read-only: they cannot be deleted or overwritten).

    little-baby list
    little-baby list --store /data/models

A status of `running` means a live process holds the model's folder now; `stopped`, that
its run ended without finishing (killed, or the machine went down): `little-baby train
--resume GUID` continues it. `running?`: its report says running, but no lock says
whether a process still is (a run started by a version without locks). `spoiled`: a file
of the folder cannot be used; the reason follows. The loss is the held-out loss where it
was measured (the age models), else the last validation loss.
"""
import time

from ...io.store import catalog
from ...io.store.claim import run_status
from ...io.store.places import STORE_ENV, default_store, store_dir, store_variable
from .common import add_store_argument, human_size


def add_arguments(parser):
    add_store_argument(parser)


def run(args):
    models = catalog.list_models(args.store, shipped=True)
    folder = store_dir(args.store).resolve()
    own = [m for m in models if not m["shipped"]]
    variable = store_variable()
    chosen = ("--store" if args.store else f"${variable}" if variable else
              f"the default, {default_store()}")
    if not own:
        exists = "" if folder.is_dir() else ", a folder that does not exist yet"
        print(f"no models of yours in {folder} ({chosen}{exists}). Train one with "
              f"`little-baby train --corpus FILE`, or look elsewhere with --store DIR or "
              f"${STORE_ENV}.")
    else:
        print(f"{len(own)} model(s) in {folder} ({chosen})")
    print(f"{'GUID':36}  {'status':10} {'params':>9} {'loss':>7} {'size':>8}  "
          f"{'modified':16}  parent")
    stopped, spoiled = [], []
    for m in models:
        loss = f"{m['val_loss']:.4f}" if m["val_loss"] is not None else "-"
        params = f"{m['n_params']:,}" if m["n_params"] else "-"
        status = "spoiled" if m["spoiled"] else run_status(m["path"], m["status"]).split(" ")[0]
        if status in ("stopped", "interrupted", "failed"):
            stopped.append(m["guid"])
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(m["modified"]))
        where = "shipped (read-only)" if m["shipped"] else (m["parent_guid"] or "-")[:8]
        print(f"{m['guid']:36}  {status:10} {params:>9} {loss:>7} {human_size(m['size']):>8}  "
              f"{when:16}  {where}")
        if m["spoiled"]:
            spoiled.append(m)
    for m in spoiled:
        print(f"spoiled {m['guid']}: {m['spoiled']}")
    if stopped:
        print(f"{len(stopped)} run(s) stopped before finishing: continue one with `little-baby "
              f"train --resume {stopped[0][:8]}`.")
    return 0

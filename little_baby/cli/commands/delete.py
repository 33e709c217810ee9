"""Delete a model from the store, after confirmation.

    little-baby delete 3f2a                 # asks: type y to delete
    little-baby delete 3f2a... --yes        # for scripts

The answer is read from stdin; when stdin is not a terminal and --yes is absent, nothing
is deleted.
"""
import sys

from ...errors import BabyError
from ...io.store import catalog
from ...io.store.identity import model_dir
from ...io.store.resolve import store_guid
from .common import add_store_argument, human_size


def add_arguments(parser):
    parser.add_argument("model", metavar="GUID", help="the model's GUID (or a unique start of it)")
    parser.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    add_store_argument(parser)


def run(args):
    guid = store_guid(args.model, args.store)  # a GUID or its start, any case; never a path
    folder = model_dir(guid, args.store)
    files = catalog.folder_files(folder)
    size = human_size(sum(st.st_size for _, st in files))
    if not args.yes:
        if not sys.stdin.isatty():
            raise BabyError(f"not deleting {guid}: stdin is not a terminal, so there is no one "
                            f"to confirm; pass --yes to delete without asking.")
        try:
            answer = input(f"delete model {guid} ({len(files)} files, {size}) in {folder}? [y/N] ")
        except EOFError:  # Ctrl-D: no
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    catalog.delete_model(guid, args.store)
    print(f"deleted {guid} ({len(files)} files, {size})")
    return 0

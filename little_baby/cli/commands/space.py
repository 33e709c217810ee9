"""Put the Gradio Space (spaces/ in the repository) on the Hugging Face Hub.

    little-baby space deploy you/the-little-baby              # create or update it
    little-baby space deploy you/the-little-baby --dry-run    # list what would go up
    little-baby space deploy you/the-little-baby --private --hardware t4-small
    little-baby space deploy you/the-little-baby --model 3f2a --model my-folder

uploads, in one commit, the app (app.py, requirements.txt, the card README.md, baby_space/)
and the little_baby package beside it, with the five age models it ships; your own models
only when named with --model (they go to models/<guid>/ and the Space offers them). Never
hidden files, caches or secrets. Prints the Space's address. Needs a token that may write
to OWNER (`hf auth login`, $HF_TOKEN or --token), and a clone of the repository.
"""
from ...io.hub.space_deploy import deploy_space


def add_arguments(parser):
    parser.add_argument("action", choices=["deploy"], help="what to do (deploy)")
    parser.add_argument("repo", metavar="OWNER/NAME", help="the Space repo to create or update")
    parser.add_argument("--private", action="store_true",
                        help="make a new Space private (an existing one keeps its visibility)")
    parser.add_argument("--hardware", metavar="HARDWARE",
                        help="ask for this hardware (cpu-basic, t4-small ...; the Hub says "
                             "which your account may have)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME",
                        help="a model of yours to put in the Space (a GUID, folder, age or repo "
                             "id); repeat for more")
    parser.add_argument("--no-ages", action="store_true",
                        help="leave the five age models out (the Space fetches them from the "
                             "Hub when first asked)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be uploaded, and upload nothing")
    parser.add_argument("--token", help="a Hub token (default: the one `hf auth login` saved, "
                                        "or $HF_TOKEN)")
    parser.add_argument("--source", metavar="DIR",
                        help="the checkout to deploy from (default: the one this package runs "
                             "from)")


def run(args):
    done = deploy_space(args.repo, private=args.private or None, hardware=args.hardware,
                        token=args.token, models=args.model, ages=not args.no_ages,
                        dry_run=args.dry_run, source=args.source)
    total = sum(done.files.values())
    if done.dry_run:
        for path, size in done.files.items():
            print(f"{size:>12,}  {path}")
        print(f"{len(done.files)} files, {total / 2 ** 20:.1f} MiB would go to {done.url} "
              f"(dry run: nothing uploaded)")
        return 0
    note = ""
    if args.private and not done.created:
        note = " (it existed: its visibility is unchanged; change it in its settings)"
    print(f"uploaded {len(done.files)} files ({total / 2 ** 20:.1f} MiB){note}")
    print(done.url)
    return 0

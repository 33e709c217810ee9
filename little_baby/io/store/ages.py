"""The original project's five age models ("Cry. Babble. Speak. Repeat." in its model
card): their names, GUIDs and context windows, and where the package ships ours.

This project retrained each with the original's architecture (tools/train_ages.py); the
folders live in the repository's shipped/<guid>/ and ship inside the package as
little_baby/shipped/<guid>/ (a link to that shipped/), so they load on a machine with no
network from any working directory.
"""
from typing import NamedTuple

from . import places
from .model_folder import is_model_folder, read_report


class Age(NamedTuple):
    name: str  # what from_pretrained and the CLI take
    months: int
    guid: str
    n_ctx: int


AGES = {a.name: a for a in (
    Age("age-3-months", 3, "33bd6583-1b87-4469-b55e-0ccb8fd0441c", 8),
    Age("age-6-months", 6, "180eeb27-b1b4-4427-9734-c70e10da2005", 16),
    Age("age-12-months", 12, "5f13a2ab-113a-4c2c-8abd-40384bdd8854", 32),
    Age("age-24-months", 24, "cb632ce3-3f3b-432b-b24f-9171005f205e", 64),
    Age("age-48-months", 48, "12b8b053-6c14-42aa-a957-89b809e6f785", 128),
)}
DEFAULT_AGE = "age-48-months"  # the oldest speaks best: what runs when no model is named


def shipped_folder(guid):
    """The folder of an age model that ships with the package, or None (also while its
    training runs: only a finished, evaluated run ships)."""
    folder = places.SHIPPED / guid
    if not any(a.guid == guid for a in AGES.values()) or not is_model_folder(folder):
        return None
    report = read_report(folder)
    return folder if report.get("status") == "complete" and "heldout" in report else None

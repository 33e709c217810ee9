"""Models on disk and on the Hub, in three packages:

    store/    this machine: where models and texts live, a model's identity, its folder
              and report.json, the store's catalog, names, claims, checkpoints, the ages
    formats/  other projects' files read (and GPT-2's written): the original's JSON, GPT-2
    hub/      the Hugging Face Hub: fetching, publishing, model cards, the Space's deploy

Each imports only the ones before it in this list.
"""

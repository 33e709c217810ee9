"""The `little-baby` sub-commands: one module each, with `add_arguments(parser)` and
`run(args)`, registered in little_baby/cli.py."""

"""`python -m federation` runs the CLI."""

from federation.cli import main

main()

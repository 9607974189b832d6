"""``python -m pgspatial`` runs the CLI."""

from pgspatial.cli import main

main()

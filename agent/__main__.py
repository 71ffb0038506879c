"""``python -m agent`` runs the framesift command line."""

from agent.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())

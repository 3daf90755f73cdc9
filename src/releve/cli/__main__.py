"""`python -m releve.cli`: the same as the `releve` command."""

from releve.cli import main

if __name__ == "__main__":
    main()

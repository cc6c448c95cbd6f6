"""``python -m omnisim``: the command line (`omnisim.cli`)."""

from omnisim.cli import main

if __name__ == "__main__":
    main()

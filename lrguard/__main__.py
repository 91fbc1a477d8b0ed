"""``python -m lrguard run [OPTIONS] SCRIPT [ARGS]...``: the ``lrguard`` command."""
from .cli import main

if __name__ == "__main__":
    main(prog_name="lrguard")

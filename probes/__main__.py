"""`python -m probes worker CONFIG_JSON` runs one framework's worker (see probes.worker)."""

import sys

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "worker":
        sys.exit("usage: python -m probes worker CONFIG_JSON")
    from probes.worker import main

    main(sys.argv[2:])

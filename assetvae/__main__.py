"""`python -m assetvae` is the `assetvae` command; torchrun starts training processes with it:

torchrun --standalone --nproc_per_node 2 -m assetvae train DATA --out RUN
"""

from .cli import main

if __name__ == "__main__":  # not when a spawned worker process re-imports the main module
    main(prog_name="assetvae")

"""``python -m hashgnn`` (also what ``torchrun -m hashgnn`` launches)."""

from hashgnn.cli import main

if __name__ == "__main__":
    main()

"""Valid NHS numbers from the range NHS England keeps for test and synthetic patients, vectorised.

The ``nhs-number`` package names 9000000000–9999999999 "not to be issued (synthetic/test patients
PDS)". We take numbers from the top of it (999…, the familiar test prefix) downwards, so a synthetic
number can never belong to a real person. The modulus-11 check digit is computed in NumPy: weights
10…2 over the first nine digits, check = 11 − (sum mod 11), 11 → 0, and 10 means the nine digits have no
valid number (skipped).
"""

from __future__ import annotations

import numpy as np

SYNTHETIC_LOW = 900_000_000  # first nine digits of the synthetic range's start (9000000000)
SYNTHETIC_TOP = 1_000_000_000
WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)  # 10, 9, …, 2


def check_digits(first_nine: np.ndarray) -> np.ndarray:
    """Modulus-11 check digit for each nine-digit stem; 10 where no valid number exists."""
    stems = np.asarray(first_nine, dtype=np.int64)
    digits = (stems[:, None] // (10 ** np.arange(8, -1, -1, dtype=np.int64))) % 10
    check = 11 - (digits @ WEIGHTS) % 11
    return np.where(check == 11, 0, check)


def synthetic_nhs_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct valid synthetic NHS numbers (int64), in a seeded random order."""
    need = int(n * 1.12) + 1000  # about 1 stem in 11 has no valid number
    start = max(SYNTHETIC_LOW, SYNTHETIC_TOP - need)
    stems = np.arange(start, SYNTHETIC_TOP, dtype=np.int64)
    check = check_digits(stems)
    ok = check != 10
    numbers = stems[ok] * 10 + check[ok]
    if len(numbers) < n:
        raise ValueError(f"the synthetic NHS number range holds fewer than {n} numbers")
    # highest first (999… before 998…), then shuffled so numbers do not follow patient order
    chosen = numbers[::-1][:n]
    return chosen[rng.permutation(n)]

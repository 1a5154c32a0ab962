"""The lines read before, to drop a copy that at-least-once log shipping delivered twice.

A Python set of 16-byte digests costs about 100 bytes a line (the bytes object and its
slot): some 100 MB at 1,000,000 lines, more than a month's window of inputs. This set
keeps 8-byte digests in one flat array (open addressing, at most half full): 8 to 16
bytes a line. The digest is keyed with a secret drawn per process, so nobody can craft two
lines that collide (and have one hide the other) without knowing it; by chance, two of a
million distinct lines collide with a probability of about 3e-8.
"""

from __future__ import annotations

import hashlib
import os
from array import array

_START = 1 << 10


class Digests:
    """A set of lines (their keyed 64-bit digests)."""

    def __init__(self) -> None:
        self.key = os.urandom(16)
        self.slots = array("Q", bytes(8 * _START))
        self.size = 0

    def add(self, line: bytes) -> bool:
        """Add ``line``; False if it was there already."""
        digest = hashlib.blake2b(line, digest_size=8, key=self.key).digest()
        value = int.from_bytes(digest, "little") or 1  # 0 marks an empty slot
        slots = self.slots
        mask = len(slots) - 1
        i = value & mask
        while found := slots[i]:
            if found == value:
                return False
            i = (i + 1) & mask
        slots[i] = value
        self.size += 1
        if self.size * 2 > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self.slots
        slots = self.slots = array("Q", bytes(16 * len(old)))
        mask = len(slots) - 1
        for value in old:
            if value:
                i = value & mask
                while slots[i]:
                    i = (i + 1) & mask
                slots[i] = value

    def __len__(self) -> int:
        return self.size

    def clear(self) -> None:
        """Let the digests go."""
        self.slots = array("Q", bytes(8 * _START))
        self.size = 0

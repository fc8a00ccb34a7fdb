"""One operator's process drawing card numbers from a shared store, for the concurrency test.

Run: python -m tests.perso.numbers_worker URL NAME BATCHES GO_FILE — once ready, writes
GO_FILE.NAME, waits for GO_FILE (so the processes start drawing together), allocates BATCHES
small batches of its own holders, prints every (card id, PAN) it was given as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from host.perso import NumberStore, batch_origin, load_profile, read_holders_text

PROFILE = Path(__file__).resolve().parents[2] / "examples" / "perso" / "profile.toml"


def main(url: str, name: str, batches: int, go: Path) -> None:
    profile = load_profile(PROFILE)
    given: list[list[str]] = []
    with NumberStore(url) as store:
        go.with_name(f"{go.name}.{name}").touch()
        while not go.exists():
            time.sleep(0.005)
        for batch in range(batches):
            rows = "".join(f"A/B,{name}-{batch}-{i}\n" for i in range(1 + batch % 4))
            holders = list(read_holders_text("name,holder_id\n" + rows))
            numbers = store.allocate(profile, holders, batch_origin(profile, holders))
            given += [[n.card_id, n.pan] for n in numbers.values()]
    print(json.dumps(given))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))

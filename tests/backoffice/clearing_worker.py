"""A separate process that clears one batch file, for the kill and concurrency tests:

    python -m tests.backoffice.clearing_worker URL BATCH.json AT [--announce]

Prints one JSON line with the outcome. With ``--announce`` it prints ``posting`` (flushed)
just before the write transaction starts posting, so a test can kill it in the middle.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from host.backoffice import BackOffice, BatchRejectedError, SoftwareCardVerifier, parse_batch
from host.backoffice.ledger import Ledger
from host.backoffice.sample_cards import SampleCards


def main(argv: list[str]) -> int:
    url, batch_path, at_text = argv[:3]
    if "--announce" in argv:
        original = Ledger.apply

        def announcing(self, conn, transfers, **kwargs):
            print("posting", flush=True)
            return original(self, conn, transfers, **kwargs)

        Ledger.apply = announcing  # type: ignore[method-assign]
    with open(batch_path, encoding="utf-8") as handle:
        batch = parse_batch(json.load(handle))
    cards = SampleCards("tests")
    verifier = SoftwareCardVerifier(cards.key_store({r.card_id for r in batch.records}))
    office = BackOffice(url, verifier=verifier)
    try:
        result = office.clear(batch, at=datetime.fromisoformat(at_text))
        print(json.dumps({"status": result.status, "records": result.records}), flush=True)
    except BatchRejectedError as exc:
        print(json.dumps({"status": "rejected", "error": str(exc)}), flush=True)
        return 3
    finally:
        office.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

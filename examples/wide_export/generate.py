"""Write the small wide CRM export of docs/input.md's worked example (seeded: the same files
every time).

One row per opportunity, as CRMs export them: the current stage, an engage date, one close date
for won and lost deals and no date at all for the first stage (prospecting); the sales agents'
managers live in a separate teams table, the accounts' sectors in an accounts table.

    python examples/wide_export/generate.py     # rewrites deals.csv, sales_teams.csv, accounts.csv
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 14
DEALS = 240
FIRST_DAY = date(2025, 1, 6)
LAST_DAY = date(2025, 12, 19)  # the export was taken that evening

TEAMS = {"Anna Petrova": "Dustin Brinkmann", "Boris Keller": "Dustin Brinkmann",
         "Carla Diaz": "Dustin Brinkmann", "Daniel Ross": "Melvin Marxen",
         "Elena Vogt": "Melvin Marxen", "Felix Braun": "Melvin Marxen"}
OFFICES = {"Dustin Brinkmann": "Central", "Melvin Marxen": "West"}
ACCOUNTS = {"Acme Corp": "technology", "Betasoft": "technology", "Cheapfix": "retail",
            "Dalmore": "retail", "Elbe Foods": "food", "Fjord Energy": "energy",
            "Granite Bank": "finance", "Hanse Logistics": "logistics",
            "Isar Medical": "medical", "Jade Telecom": "telecom"}
PRODUCTS = {"GTX Basic": 550, "GTX Pro": 4800, "MG Advanced": 3400}


def deal_rows(rng: random.Random) -> list[list[str]]:
    """The opportunities: id, agent, product, account, stage, engage date, close date, value."""
    rows = []
    span = (LAST_DAY - FIRST_DAY).days
    for number in range(1, DEALS + 1):
        agent = rng.choice(sorted(TEAMS))
        product = rng.choice(sorted(PRODUCTS))
        account = rng.choice(sorted(ACCOUNTS))
        engaged = FIRST_DAY + timedelta(days=rng.randrange(span))
        fate = rng.random()
        stage, engage, close, value = "Prospecting", "", "", ""
        if fate < 0.15:
            pass  # still prospecting: no date at all
        else:
            engage = engaged.isoformat()
            closed = engaged + timedelta(days=int(rng.expovariate(1 / 45)) + 1)
            if fate < 0.35 or closed > LAST_DAY:
                stage = "Engaging"
            elif fate < 0.75:
                stage, close = "Won", closed.isoformat()
                value = str(round(PRODUCTS[product] * rng.uniform(0.9, 1.1)))
            else:
                stage, close, value = "Lost", closed.isoformat(), "0"
        rows.append([f"OPP-{number:04d}", agent, product, account, stage, engage, close, value])
    return rows


def write(name: str, header: list[str], rows: list[list[str]]) -> None:
    """One CSV file next to this script."""
    with open(HERE / name, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    """Write the three files."""
    rng = random.Random(SEED)
    write("deals.csv", ["opportunity_id", "sales_agent", "product", "account", "deal_stage",
                        "engage_date", "close_date", "close_value"], deal_rows(rng))
    write("sales_teams.csv", ["sales_agent", "manager", "regional_office"],
          [[agent, manager, OFFICES[manager]] for agent, manager in sorted(TEAMS.items())])
    write("accounts.csv", ["account", "sector"], [list(kv) for kv in sorted(ACCOUNTS.items())])


if __name__ == "__main__":
    main()

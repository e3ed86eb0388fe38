"""Execute every page of book/manifest.yml with papermill into book/generated/.

    python book/execute.py            # every page
    python book/execute.py fig1_grokked_ticket
"""
from __future__ import annotations

import sys
from pathlib import Path

import papermill
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "book" / "manifest.yml"
GENERATED = ROOT / "book" / "generated"


def pages() -> list[dict]:
    return yaml.safe_load(MANIFEST.read_text())["pages"]


def execute(page: dict) -> Path:
    out = GENERATED / f"{page['output']}.ipynb"
    tmp = out.with_name(f".{out.name}.partial")  # a failed run never leaves a page behind
    papermill.execute_notebook(ROOT / "notebooks" / page["notebook"], tmp,
                               parameters=page.get("parameters", {}), kernel_name="python3",
                               cwd=ROOT / "notebooks", progress_bar=False)
    tmp.replace(out)
    return out


def main(names: list[str]) -> None:
    GENERATED.mkdir(parents=True, exist_ok=True)
    chosen = [p for p in pages() if not names or p["output"] in names]
    unknown = set(names) - {p["output"] for p in chosen}
    if unknown:
        valid = ", ".join(p["output"] for p in pages())
        raise SystemExit(f"unknown page(s) {', '.join(sorted(unknown))}; valid: {valid}")
    for page in chosen:
        print(f"executing {page['notebook']} -> {execute(page).relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

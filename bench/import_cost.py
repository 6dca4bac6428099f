"""CPU seconds of importing nbformat (what papermill and nbconvert import) in a fresh interpreter, with
jsonschema's optional IRI grammars (rfc3987_syntax) and without them (`bwkit.lazy.without_iri_grammars`); and of
04_export's imports, as they are and with scipy.stats as `significance` imported it at the top before (the export
needs the bands, never a test statistic).

    .venv/bin/python bench/import_cost.py

Each variant runs 5 times in its own process; prints the median user + system CPU seconds. Not a test:
the record behind `without_iri_grammars` (docs/tests.md).
"""
import resource
import statistics
import subprocess
import sys

VARIANTS = {
    "import nbformat": "import nbformat",
    "import nbformat, IRI grammars left out": "from bwkit.lazy import without_iri_grammars; "
                                               "without_iri_grammars(); import nbformat",
    "import bwkit.lazy alone": "import bwkit.lazy",
    "04_export's imports": "from bwkit.runs import params, RunFolder; from bwkit.serving import export",
    "04_export's imports, scipy.stats too": "import scipy.stats; from bwkit.runs import params, RunFolder; "
                                            "from bwkit.serving import export",
}


def cpu_seconds(code: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


if __name__ == "__main__":
    for label, code in VARIANTS.items():
        print(f"{label}: {statistics.median(cpu_seconds(code) for _ in range(5)):.2f} s of CPU", flush=True)

"""Print a report.html to PDF with headless Chromium and list the pages that strand a heading.

A page whose last line is a heading ("1. " ... "5. ", "A1. " ... "A5. ", "Provenance",
"來源") or a "Collaborators:" line leaves that line
apart from what it introduces. Each such page is listed; the exit status is 1
if there is one. Read per page with pdftotext -layout.

    make report && python docs/print_check.py report.html report.zh-TW.html
    python docs/print_check.py docs/fer2013/report.html --paper A4 --keep /tmp/pdf   # keep the PDFs to look at

Needs Chromium and poppler's pdftotext, which the kit does not install
(Debian/Ubuntu: apt-get install chromium poppler-utils).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

STRANDED = re.compile(r"^(?:[1-5]\. |A[1-5]\. |Provenance$|來源$|Collaborators[:：])")
CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-pdf-header-footer"]


def print_pdf(html_path, paper, pdf):
    """html_path printed on paper (an @page size added to a copy, so the report's own rule is overridden)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        sys.exit("print_check: no Chromium found (apt-get install chromium)")
    page = open(html_path, encoding="utf-8").read()
    base = "file://" + os.path.dirname(os.path.abspath(html_path)) + "/"
    page = page.replace("</head>", f'<base href="{base}"><style>@page {{ size: {paper}; }}</style></head>', 1)
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "page.html")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(page)
        subprocess.run([browser, *CHROMIUM, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={pdf}",
                        "file://" + copy], check=True, capture_output=True, timeout=300)


def stranded(pdf):
    """[(page number, its last line)] for each page that ends with a heading or a Collaborators line."""
    text = subprocess.run(["pdftotext", "-layout", pdf, "-"], check=True, capture_output=True, text=True).stdout
    found = []
    for n, page in enumerate(text.split("\f"), 1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        if lines and STRANDED.match(lines[-1]):
            found.append((n, lines[-1]))
    return found, text.count("\f")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("html", nargs="+", help="report.html files (figures embedded) to print")
    p.add_argument("--paper", choices=["Letter", "A4"], default="Letter", help="paper size (default: %(default)s)")
    p.add_argument("--keep", metavar="DIR", help="keep each PDF there, as NAME.PAPER.pdf (default: thrown away)")
    args = p.parse_args(argv)
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.html:
            name = os.path.splitext(os.path.basename(path))[0]
            pdf = os.path.join(os.path.abspath(args.keep or tmp), f"{name}.{args.paper}.pdf")
            print_pdf(path, args.paper, pdf)
            found, pages = stranded(pdf)
            bad += len(found)
            ends = "; ".join(f"page {n} ends with '{line}'" for n, line in found) or "no page ends with a heading"
            print(f"{path} on {args.paper}: {pages} pages, {ends}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate docs/fer2013/: the report on FER2013 from the shipped models, with no figure of a face.

    python docs/fer2013/make.py data/fer2013.csv.gz

The same path as `make report PRETRAINED=1` (ferlib.shipped, then
confusion.py, saliency.py and filter_viz.py on the data's held-out split),
run in a scratch folder, with the report written by make_report.py
--no-faces: FER2013's faces are not ours to publish, so the gallery of
confused faces, the single-face saliency maps, the face patches of the
filters and the activation maps are left out, and the report says so where
each would be. The reports, the figures they link and the analyses' records
(in records/, which the reports name) are copied here.
"""

import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

import confusion  # noqa: E402
import filter_viz  # noqa: E402
import make_report  # noqa: E402
import saliency  # noqa: E402
from ferlib import shipped  # noqa: E402
from ferlib.outputs import load_json, save_json  # noqa: E402

RECORDS = os.path.join(HERE, "records")


def keep_record(path):
    """An analysis record of the scratch folder, kept in records/ and named there by the report."""
    record = load_json(path)
    record["record_path"] = f"docs/fer2013/records/{os.path.basename(path)}"
    save_json(record, path)
    shutil.copy(path, RECORDS)


def main(data_path):
    # Run in the scratch folder with the kit's default paths, so the commands the report quotes are
    # the ones a user types (python confusion.py ...), not this machine's.
    scratch = tempfile.mkdtemp(prefix="fer2013-report-")
    os.makedirs(os.path.join(scratch, "data"))
    data_link = os.path.join("data", "fer2013.csv.gz" if data_path.endswith(".gz") else "fer2013.csv")
    os.symlink(os.path.abspath(data_path), os.path.join(scratch, data_link))
    os.chdir(scratch)
    shipped.install(data_link)
    confusion.main(["--data", data_link])
    saliency.main(["--data", data_link])
    filter_viz.main(["--data", data_link, "--index", "0"])   # its record says what the left-out activation figure showed
    for what in ("confusion", "saliency", "filters"):
        keep_record(os.path.join("models", f"cnn.{what}.json"))
    out = os.path.join(HERE, "figures")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for lang, report in (("en", "report.md"), ("zh-TW", "report.zh-TW.md")):
        text = make_report.main(["--no-faces", "--lang", lang, "--out", report,
                                 "--made-by", f"python docs/fer2013/make.py {data_path}"])
        shutil.copy(report, HERE)
        for link in re.findall(r"\]\((figures/[^)]+)\)", text):
            shutil.copy(link, out)
    os.chdir(ROOT)
    shutil.rmtree(scratch)
    print(f"wrote {HERE}/report.md, report.zh-TW.md and figures/")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/fer2013.csv.gz")

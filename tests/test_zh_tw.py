"""The committed Traditional Chinese reports read as a Taiwanese student writes: full-width punctuation inside
Chinese sentences, no spaces between Chinese words, differences as words with their size (高出 / 低了)."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORTS = ["report.zh-TW.md", "docs/fer2013/report.zh-TW.md"]
HAN = r"[\u3400-\u9fff]"

PROBLEMS = {
    # "生氣 363, 厭惡 193", "33%; 難過": half-width , ; : with Chinese on the far side
    "half-width punctuation in a Chinese sentence": rf"(?:{HAN}[^|`\n]{{0,12}}[,;:]\s*{HAN})|(?:{HAN}\s*[,;:])",
    # "在 測試集 上"
    "a space between Chinese characters": rf"{HAN}[ \u00a0]+{HAN}",
    # "高 -2.1 個百分點", "（差 -0.001%）": the sign belongs in the word
    "a signed difference after 高/低/差": r"[高低差][^\d\n]{0,4}[+\-\u2212]\d",
    # "（3x3、ReLU" beside "2×2": a Latin x for the times sign in a sentence (a table cell ends at its pipe)
    "a Latin x for the times sign in a Chinese sentence": rf"(?:{HAN}[^|\n]*?\d+x\d+)|(?:\d+x\d+(?=[^|\n]*{HAN}))",
}


def prose(text):
    """The text a reader reads as sentences: code spans as one Latin word, no figure links."""
    text = re.sub(r"`[^`\n]*`", "code", text)
    return re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)


def problems(text):
    return [(name, m.group(0)) for name, pattern in PROBLEMS.items() for m in re.finditer(pattern, prose(text))]


@pytest.mark.parametrize("path", REPORTS)
def test_committed_zh_tw_report_reads_as_written_by_hand(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        found = problems(f.read())
    assert not found, found[:10]


@pytest.mark.parametrize("bad", ["生氣 363, 厭惡 193。", "比例 33%; 難過 20%", "在 測試集 上", "比驗證集高 -2.1 個百分點",
                                 "（差 -0.001%）", "每層卷積（3x3、ReLU）"])
def test_the_scan_finds_each_kind_of_problem(bad):
    assert problems(bad)


def test_the_scan_passes_good_chinese_and_code():
    good = ("生氣 363、厭惡 193。比驗證集低了 2.1 個百分點（相差 0.001%）。`python train_cnn.py --lr 3e-3`。"
            "| 生氣 | 0.91 [0.84, 1.00] |" "| `conv2d_1` | Conv2D | 48x48x32 | 320 | 3x3, relu |" "48×48 灰階")
    assert problems(good) == []

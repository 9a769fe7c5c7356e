"""report.html: the report's markdown as one page to print or send, every figure embedded.

Laid out to print on A4 or Letter from any browser. A browser may break a
page anywhere between blocks, and Chromium does not honour `break-after:
avoid` on a heading well, so the rendered blocks that must stay together are
wrapped in a <div class="keep"> (break-inside: avoid): each figure with its
caption, each question's heading with its "Collaborators:" line and the
block that opens its content, and a paragraph that ends in a colon with the
table it introduces.
"""

import base64
import html
import os
import re
from html.parser import HTMLParser

from ferlib.outputs import atomic_path

HTML_STYLE = """
@page { size: auto; margin: 15mm 15mm; }
body { font-family: "Noto Sans CJK TC", "Noto Sans TC", "PingFang TC", "Microsoft JhengHei", Helvetica, Arial,
       sans-serif; font-size: 10pt; line-height: 1.3; max-width: 17cm; margin: 1em auto; color: #111; }
p, ul { margin: 0.45em 0; }
h1 { font-size: 18pt; } h2 { font-size: 13.5pt; margin-top: 1.4em; break-after: avoid; }
img { max-width: 100%; display: block; margin: 0.4em auto; break-inside: avoid; }
table { border-collapse: collapse; font-size: 8.5pt; margin: 0.5em 0; break-inside: avoid; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; }
blockquote { margin: 0.5em 0; padding-left: 0.8em; border-left: 3px solid #bbb; color: #444; }
code { font-size: 0.92em; overflow-wrap: anywhere; } em { color: #333; }
td code { overflow-wrap: normal; white-space: nowrap; }   /* layer names whole: the table stays one page tall */
.keep { break-inside: avoid; page-break-inside: avoid; }
table.tall { break-inside: auto; }   /* longer than a page's share: it may continue on the next page */
"""

TALL = 15   # rows: a longer table or list is not kept with its heading (moved whole, it would leave a big gap)
VOID = {"img", "br", "hr", "input", "meta", "link"}


class _Blocks(HTMLParser):
    """The top-level elements of an HTML fragment, as (tag, start, end) offsets into it."""

    def __init__(self, text):
        super().__init__(convert_charrefs=False)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.depth, self.blocks = 0, []
        self.feed(text)
        self.close()

    def position(self):
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag, attrs):
        if self.depth == 0:
            self.start = self.position()
            if tag in VOID:
                self.blocks.append((tag, self.start, self.start + len(self.get_starttag_text())))
                return
        if tag not in VOID:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in VOID:                                # <img ... />: HTMLParser calls both handlers
            return
        self.depth -= 1
        if self.depth == 0:
            self.blocks.append((tag, self.start, self.position() + len(f"</{tag}>")))


def _keep(blocks):
    return '<div class="keep">\n' + "\n".join(blocks) + "\n</div>"


def keep_together(body):
    """body with each figure and its caption, and each <h2> or <h3> and what opens its section, in a <div class="keep">."""
    spans = [(start, end) for _, start, end in _Blocks(body).blocks]
    between = zip([0] + [end for _, end in spans], [start for start, _ in spans] + [len(body)])
    if any(body[a:b].strip() for a, b in between):
        return body                                    # text outside any element: leave the page as rendered
    blocks = []
    for b in (body[start:end] for start, end in spans):
        if b.startswith("<table>") and b.count("<tr>") > TALL:
            b = '<table class="tall">' + b[len("<table>"):]   # moved whole, it would leave most of a page blank
        caption = b.startswith("<p><em>") and b.endswith("</em></p>") and b.count("<em>") == 1
        if caption and blocks and re.fullmatch(r"<p><img [^>]*></p>", blocks[-1]):
            blocks[-1] = _keep([blocks[-1], b])        # a figure and the caption below it
        else:
            blocks.append(b)
    out, i = [], 0
    while i < len(blocks):
        group, i = [blocks[i]], i + 1
        if group[0].startswith(("<h2", "<h3")):
            while i < len(blocks) and re.match(r"<p><strong>[^<]*[:：]</strong>", blocks[i]):
                group.append(blocks[i])                # "Collaborators:" (a label line) under the heading
                i += 1
            if i < len(blocks) and not blocks[i].startswith("<h") and len(re.findall("<tr>|<li>", blocks[i])) <= TALL:
                group.append(blocks[i])                # and the paragraph, figure, table or list that opens the section
                i += 1
        elif re.search(r"[:：]</p>$", group[0]) and i < len(blocks) and blocks[i].startswith("<table") \
                and len(re.findall("<tr>", blocks[i])) <= TALL:
            group.append(blocks[i])                    # a lead-in ending in a colon and the table it introduces
            i += 1
        out.append(_keep(group) if len(group) > 1 else group[0])
    return "\n".join(out)


def write_html(markdown_text, md_path, dest, lang):
    """report.html: the markdown rendered, every figure embedded (one file to open, print or send)."""
    import markdown
    out_dir = os.path.dirname(os.path.abspath(md_path))

    def embed(match):
        alt, target = match.group(1), match.group(2)
        path = os.path.join(out_dir, target)
        if not os.path.exists(path):
            return match.group(0)
        data = base64.b64encode(open(path, "rb").read()).decode()
        # At the size it was drawn for (its pixels over its dpi), not stretched to the column's width.
        from PIL import Image
        with Image.open(path) as im:
            inches = im.width / float(im.info.get("dpi", (200, 200))[0])
        return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="width: {inches:.2f}in">'

    body = markdown.markdown(re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", embed, markdown_text), extensions=["tables"])
    body = keep_together(body)
    title = markdown_text.splitlines()[0].lstrip("# ")
    page = (f"<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
    with atomic_path(dest) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)

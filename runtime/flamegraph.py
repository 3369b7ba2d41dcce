"""A flame graph as one self-contained SVG (`pytrace --flamegraph FILE.svg`),
from folded stacks (runtime/output/folded.py): no external tool.

Each frame is a box as wide as its share of the samples, its callers below
it (the root at the bottom). The SVG carries its own script: click a box to
zoom to it (click the root or "Reset zoom" to go back), "Search" highlights the
frames matching a regular expression and shows their share (`FILE.svg#s=REGEX`
searches as the file opens), and hovering shows
a frame's name, samples and percentage. Colours are warm hues derived from the
function name, so a function keeps its colour across graphs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from html import escape

WIDTH = 1200
FRAME_HEIGHT = 16
TOP = 40  # the title and the buttons
BOTTOM = 24  # the details line
FONT_SIZE = 12
CHAR_WIDTH = 0.59 * FONT_SIZE
MIN_WIDTH = 0.1  # pixels: narrower boxes are left out


@dataclass
class Node:
    name: str
    count: int = 0
    children: dict = field(default_factory=dict)


def build_tree(paths: dict[str, int]) -> Node:
    """{"a;b;c": n} as a tree of frames; a node's count includes its children's."""
    root = Node("all")
    for path, count in paths.items():
        node = root
        node.count += count
        for name in path.split(";"):
            node = node.children.setdefault(name, Node(name))
            node.count += count
    return root


@dataclass(frozen=True)
class Box:
    name: str
    count: int
    x: float  # share of the root, 0..1
    width: float  # share of the root
    depth: int


def layout(root: Node) -> list[Box]:
    """Every frame's box: children side by side, sorted by name (as flamegraph tools do)."""
    boxes: list[Box] = []
    total = root.count or 1

    def place(node: Node, x: float, depth: int) -> None:
        boxes.append(Box(node.name, node.count, x, node.count / total, depth))
        for name in sorted(node.children):
            child = node.children[name]
            place(child, x, depth + 1)
            x += child.count / total

    place(root, 0.0, 0)
    return boxes


def _colour(name: str) -> str:
    h = zlib.crc32(name.encode())
    return f"rgb({205 + h % 50},{(h >> 8) % 180},{(h >> 16) % 55})"


def _label(name: str, width_px: float) -> str:
    fits = int((width_px - 6) / CHAR_WIDTH)
    if fits < 3:
        return ""
    return name if len(name) <= fits else name[: fits - 2] + ".."


_SCRIPT = """
var svg = document.documentElement, details, searchInfo, frames, total;
function init() {
  details = document.getElementById("details");
  searchInfo = document.getElementById("matched");
  frames = Array.prototype.slice.call(document.querySelectorAll("g.frame"));
  total = parseInt(frames[0].getAttribute("data-count"), 10);
  frames.forEach(function (g) {
    g.addEventListener("click", function () { zoom(g); });
    g.addEventListener("mouseover", function () { details.textContent = g.querySelector("title").textContent; });
    g.addEventListener("mouseout", function () { details.textContent = " "; });
  });
  document.getElementById("reset").addEventListener("click", function () { zoom(frames[0]); });
  document.getElementById("search").addEventListener("click", function () {
    var term = window.prompt("Search frames (regular expression):", "");
    if (term !== null) search(term);
  });
  var asked = /[#&]s=([^&]*)/.exec(window.location.hash);  // file.svg#s=REGEX searches at once
  if (asked) search(decodeURIComponent(asked[1]));
  svg.setAttribute("data-ready", "1");
}
function num(g, name) { return parseFloat(g.getAttribute("data-" + name)); }
function zoom(target) {
  var x0 = num(target, "x"), w0 = num(target, "w"), d0 = num(target, "depth");
  var full = svg.getAttribute("data-width") - 20;
  frames.forEach(function (g) {
    var x = num(g, "x"), w = num(g, "w"), d = num(g, "depth");
    var inside = x >= x0 - 1e-12 && x + w <= x0 + w0 + 1e-12;
    var below = d < d0 && x <= x0 + 1e-12 && x + w >= x0 + w0 - 1e-12;
    var rect = g.querySelector("rect"), text = g.querySelector("text");
    if (!(inside || below)) { g.style.display = "none"; return; }
    g.style.display = "";
    var nx = inside ? (x - x0) / w0 : 0, nw = inside ? w / w0 : 1;
    rect.setAttribute("x", 10 + nx * full);
    rect.setAttribute("width", Math.max(nw * full - 0.5, 0));
    text.setAttribute("x", 10 + nx * full + 3);
    var fits = Math.floor((nw * full - 6) / %(char_width)s), name = g.getAttribute("data-name");
    text.textContent = fits < 3 ? "" : (name.length <= fits ? name : name.slice(0, fits - 2) + "..");
    g.style.opacity = below && d < d0 ? 0.6 : 1;
  });
}
function search(term) {
  var re, matched = 0, seen = [];
  try { re = new RegExp(term); } catch (e) { searchInfo.textContent = "bad expression"; return; }
  frames.forEach(function (g) {
    var rect = g.querySelector("rect"), hit = term !== "" && re.test(g.getAttribute("data-name"));
    rect.setAttribute("fill", hit ? "rgb(230,0,230)" : g.getAttribute("data-fill"));
    if (!hit) return;
    var x = num(g, "x"), w = num(g, "w");
    if (seen.some(function (s) { return x >= s[0] - 1e-12 && x + w <= s[0] + s[1] + 1e-12; })) return;
    seen.push([x, w]);
    matched += w;
  });
  searchInfo.textContent = term === "" ? "" : "Matched: " + (100 * matched).toFixed(1) + "%%";
}
"""


def render(paths: dict[str, int], title: str = "Flame Graph") -> str:
    """The SVG text of a flame graph of {folded path: count}."""
    boxes = layout(build_tree(paths))
    depth = max((b.depth for b in boxes), default=0) + 1
    height = TOP + depth * FRAME_HEIGHT + BOTTOM
    full = WIDTH - 20
    total = boxes[0].count if boxes else 0
    out = [
        '<?xml version="1.0" standalone="no"?>\n',
        f'<svg version="1.1" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'data-width="{WIDTH}" onload="init()" xmlns="http://www.w3.org/2000/svg">\n',
        '<style>text { font-family: monospace; font-size: %dpx; fill: #000; } '
        'g.frame { cursor: pointer; } g.frame:hover rect { stroke: #000; stroke-width: 0.5; } '
        '.button { fill: #06c; cursor: pointer; }</style>\n' % FONT_SIZE,
        f'<script type="text/ecmascript"><![CDATA[{_SCRIPT % {"char_width": CHAR_WIDTH}}]]></script>\n',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#f8f8f0"/>\n',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" style="font-size:16px">{escape(title)}</text>\n',
        '<text id="reset" class="button" x="10" y="20">Reset zoom</text>\n',
        f'<text id="search" class="button" x="{WIDTH - 70}" y="20">Search</text>\n',
        f'<text id="matched" x="{WIDTH - 200}" y="{height - 8}"> </text>\n',
        f'<text id="details" x="10" y="{height - 8}"> </text>\n',
    ]
    for b in boxes:
        width_px = b.width * full
        if width_px < MIN_WIDTH:
            continue
        x = 10 + b.x * full
        y = TOP + (depth - 1 - b.depth) * FRAME_HEIGHT
        fill = "rgb(240,240,220)" if b.depth == 0 else _colour(b.name)
        percent = 100 * b.count / total if total else 0
        out.append(
            f'<g class="frame" data-name="{escape(b.name)}" data-count="{b.count}" data-x="{b.x!r}" '
            f'data-w="{b.width!r}" data-depth="{b.depth}" data-fill="{fill}">'
            f'<title>{escape(b.name)} ({b.count} samples, {percent:.2f}%)</title>'
            f'<rect x="{x:.2f}" y="{y}" width="{max(width_px - 0.5, 0):.2f}" height="{FRAME_HEIGHT - 1}" '
            f'fill="{fill}" rx="2"/>'
            f'<text x="{x + 3:.2f}" y="{y + FRAME_HEIGHT - 4}">{escape(_label(b.name, width_px))}</text></g>\n')
    out.append("</svg>\n")
    return "".join(out)

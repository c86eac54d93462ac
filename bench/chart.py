"""Draw the README's benchmark chart from result files saved with `--json`.

    python3 bench/chart.py core.json net.json -o bench/results/chart.svg

One bar group per workload: the speed of upstream uvloop and of ours relative to
asyncio's default loop (asyncio = 1.0; for cost metrics such as cpu_us/req the
ratio is inverted, so longer is always better). Plain SVG, no dependencies.
"""

import argparse
import json
from pathlib import Path

BAR_HEIGHT = 14
GROUP_GAP = 12
LABEL_WIDTH = 260
PLOT_WIDTH = 420
LEGEND_STEP = 180
SERIES = (("upstream/asyncio", "upstream uvloop 0.23.0", "#9aa5b1"),
          ("ours/asyncio", "this uvloop", "#2f6fdd"),
          # Network rows only: the C epoll echo server, the ceiling any loop can reach.
          ("c/asyncio", "C epoll server (ceiling)", "#3a3a3a"))


def speedups(row):
    """{series: speed relative to asyncio} for one result row."""
    cost = not row["metric"].endswith("/s")
    result = {}
    for key, _, _ in SERIES:
        ratio = row["ratio"].get(key)
        if ratio:
            result[key] = 1 / ratio if cost else ratio
    return result


def load_rows(paths):
    rows = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        for row in data["results"]:
            if row["metric"].endswith("/s") or row["metric"].startswith("cpu"):
                rows.append((f'{row["workload"]} ({row["metric"]})', speedups(row)))
    return rows


def render(rows):
    top = max((v for _, s in rows for v in s.values()), default=1.0)
    scale = PLOT_WIDTH / max(top * 1.1, 1.2)
    group_height = len(SERIES) * BAR_HEIGHT + GROUP_GAP
    height = 40 + len(rows) * group_height + 30
    width = max(LABEL_WIDTH + PLOT_WIDTH + 60, LABEL_WIDTH + LEGEND_STEP * len(SERIES))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           '<text x="10" y="20" font-size="14" font-weight="bold">'
           'Speed relative to asyncio\'s default loop (1.0 = asyncio)</text>']
    y = 40
    for label, values in rows:
        out.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT + 4}" '
                   f'text-anchor="end">{label}</text>')
        for index, (key, _, color) in enumerate(SERIES):
            value = values.get(key)
            if value is None:
                continue
            bar_y = y + index * BAR_HEIGHT
            bar_width = value * scale
            out.append(f'<rect x="{LABEL_WIDTH}" y="{bar_y}" width="{bar_width:.1f}" '
                       f'height="{BAR_HEIGHT - 2}" fill="{color}"/>')
            out.append(f'<text x="{LABEL_WIDTH + bar_width + 4:.1f}" '
                       f'y="{bar_y + BAR_HEIGHT - 3}">{value:.2f}x</text>')
        y += group_height
    one = LABEL_WIDTH + scale
    out.append(f'<line x1="{one:.1f}" y1="34" x2="{one:.1f}" y2="{y}" '
               'stroke="#d33" stroke-dasharray="4 3"/>')
    legend_x = LABEL_WIDTH
    for _, name, color in SERIES:
        out.append(f'<rect x="{legend_x}" y="{y + 8}" width="12" height="12" '
                   f'fill="{color}"/>')
        out.append(f'<text x="{legend_x + 16}" y="{y + 18}">{name}</text>')
        legend_x += LEGEND_STEP
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', nargs='+', help='JSON files saved with --json')
    parser.add_argument('-o', '--output', required=True, help='SVG file to write')
    args = parser.parse_args()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(render(load_rows(args.results)))


if __name__ == '__main__':
    main()

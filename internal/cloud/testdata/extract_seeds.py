#!/usr/bin/env python3
"""Extract the JSON response examples from the seed API reference pages.

Usage: python3 extract_seeds.py /work/shared/seeds internal/cloud

Each top-level JSON object in a seed page is located with
json.JSONDecoder.raw_decode (so braces inside strings are handled and prose
such as "{project_id}" is skipped) and written out byte for byte: the bytes
from the opening "{" to the matching "}" exactly as they appear in the page,
no newline added, nothing re-indented. When the object starts on a line of
its own, the indentation before "{" on that line is kept too (seed 003 shows
its example indented by four spaces; JSON allows leading whitespace), so the
file is the page's lines verbatim. The file name carries the HTTP status
named by the closest preceding "状态码: NNN" label.
"""
import json
import os
import re
import sys

SEEDS = {
    "000": ("bcs", "list_op_record"),
    "001": ("bcs", "list_op_record"),
    "002": ("cce", "show_upgrade_workflow"),
    # Seed 003 has no status label before its only example; the page says
    # it is the answer of a successful query (查询执行记录成功, 200).
    "003": ("aos", "execution", "200"),
    "004": ("dws", "list_cluster_actions"),
}
STATUS = re.compile(r"状态码\s*[:：]\s*(\d{3})")


def objects(text):
    dec = json.JSONDecoder()
    i = 0
    while True:
        i = text.find("{", i)
        if i < 0:
            return
        try:
            obj, end = dec.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        if isinstance(obj, dict) and obj:
            yield i, end
            i = end
        else:
            i += 1


def main(seed_dir, out_root):
    for name in sorted(os.listdir(seed_dir)):
        prefix = name[:3]
        if prefix not in SEEDS:
            continue
        service, api = SEEDS[prefix][:2]
        default_status = SEEDS[prefix][2] if len(SEEDS[prefix]) > 2 else "unknown"
        with open(os.path.join(seed_dir, name), encoding="utf-8", newline="") as f:
            text = f.read()
        seen = {}
        for start, end in objects(text):
            labels = STATUS.findall(text[:start])
            status = labels[-1] if labels else default_status
            line_start = text.rfind("\n", 0, start) + 1
            if text[line_start:start].strip() == "":
                start = line_start  # keep the page's indentation
            n = seen.get(status, 0)
            seen[status] = n + 1
            suffix = "" if n == 0 else "_%d" % (n + 1)
            out = os.path.join(out_root, service, "testdata",
                               "%s_%s_%s%s.json" % (prefix, api, status, suffix))
            data = text[start:end].encode("utf-8")
            with open(out, "wb") as f:
                f.write(data)
            print("%s: %d bytes" % (out, len(data)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
